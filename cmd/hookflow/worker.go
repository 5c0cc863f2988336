package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// workerCommand runs steps only: the same workflows and queue as serve, no listeners.
// Workers scale a hookflow out: any number share one Redis with the serve processes.
func workerCommand(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := serveConfig{dir: "."}
	fs := newFlagSet("worker", "worker --redis URL [flags] [DIR]", stderr)
	engineFlags(fs, &cfg)
	if err := parseDirArgs(fs, args, &cfg.dir); err != nil {
		return err
	}
	if cfg.redisURL == "" {
		fmt.Fprintln(stderr, "hookflow worker: --redis is required: a worker runs the steps of a Redis that serve processes share (the embedded Redis lives inside one serve process)")
		return errUsage
	}
	log, err := newLogger(cfg.logFormat, stderr)
	if err != nil {
		return err
	}
	w, err := startWorker(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-w.errc:
		log.Error("metrics listener failed; shutting down", "err", err)
	}
	log.Info("shutting down: finishing steps in progress")
	return w.stop()
}

// worker is a running worker: the engine's runtime, and a listener for its metrics
// and health when cfg.metricsAddr is set.
type worker struct {
	*engineRuntime
	metricsOut *metricsListener // nil without one
	errc       chan error
}

// startWorker loads the workflows and starts the workers, and the metrics listener
// when cfg.metricsAddr is set; it returns once that accepts connections.
func startWorker(ctx context.Context, cfg serveConfig, log *slog.Logger, stderr io.Writer) (*worker, error) {
	var ln net.Listener
	if cfg.metricsAddr != "" {
		var err error
		if ln, err = listenMetrics(cfg.metricsAddr); err != nil {
			return nil, err
		}
	}
	rt, err := startRuntime(ctx, cfg, log, stderr)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	w := &worker{engineRuntime: rt, errc: make(chan error, 1)}
	args := []any{"workflows", len(rt.set.Workflows()), "workers", cfg.workers}
	if ln != nil {
		w.metricsOut = serveMetrics(ln, rt.metrics, rt.engine, log, w.errc)
		args = append(args, "metrics", "http://"+dialable(w.metricsOut.addr)+"/metrics")
	}
	log.Info("hookflow worker running", args...)
	return w, nil
}

// stop closes the metrics listener, then stops the workers and Redis.
func (w *worker) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(w.metricsOut.shutdown(ctx), w.engineRuntime.stop())
}
