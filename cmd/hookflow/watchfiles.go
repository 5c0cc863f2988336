package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/hookflow/hookflow/workflows"
)

// watchFiles reloads r's workflows whenever the files under cfg.dir change, unless
// cfg.noWatch, and returns what stops watching; reload says how to reload by hand when
// the files cannot be watched. serve and worker both do: a worker
// that kept the files it started with would start a workflow step's child run on its
// old version, or not at all for a workflow added since.
func watchFiles(cfg serveConfig, r *reloader, log *slog.Logger, reload string) context.CancelFunc {
	ctx, stop := context.WithCancel(context.Background())
	if cfg.noWatch {
		return stop
	}
	err := workflows.Watch(ctx, cfg.dir, workflows.WatchOptions{Rescan: cfg.rescan}, func() { r.Changed("files changed") })
	if err != nil {
		log.Warn("cannot watch the workflow files; reload with "+reload, "dir", cfg.dir, "err", err)
	}
	r.Changed("a change while starting") // what changed before the watch began
	return stop
}

// reloadOnSignal reloads r's workflows at each signal on hup, on a goroutine of its
// own, until done is closed: a reload that takes long does not hold up a shutdown
// (signals that come meanwhile make one reload after it).
func reloadOnSignal(hup <-chan os.Signal, r *reloader, done <-chan struct{}) {
	go func() {
		for {
			select {
			case <-hup:
				r.Reload("SIGHUP")
			case <-done:
				return
			}
		}
	}()
}
