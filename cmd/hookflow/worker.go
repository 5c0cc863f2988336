package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/workflows"
)

func workerCommand() *cobra.Command {
	cfg := serveConfig{dir: "."}
	cmd := &cobra.Command{
		Use:     "worker --redis URL [DIR]",
		GroupID: "run",
		Short:   "Run steps only, sharing a Redis with serve processes",
		Long: `worker runs the steps of the workflows in DIR (default: the current directory)
from the Redis at --redis: the same workflows and queue as serve, without webhooks or
an admin API (--metrics serves /metrics, /healthz and /readyz for it). Like serve,
it reloads the workflows when their files change, and on SIGHUP: a workflow step
starts its child run on the version in use. Start as many as the work needs; every serve and worker process sharing one Redis
shares the steps. A worker needs a real Redis: the embedded one lives inside one serve
process. SIGINT or SIGTERM stops it after the steps in progress finish (up to 30s).`,
		Example: `  hookflow worker --redis redis://redis:6379/0 --workers 128 --metrics :9090 workflows/
  HOOKFLOW_REDIS=redis://redis:6379/0 hookflow worker /etc/hookflow`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.dir = args[0]
			}
			if err := checkPaths("", cfg.dir); err != nil {
				return err
			}
			var err error
			if cfg.redisURL, err = redisURLOf(cfg.redisURL, cfg.redisFile); err != nil {
				return err
			}
			if cfg.redisURL == "" {
				return usage("--redis is required (or --redis-file): a worker runs the steps of a Redis that serve processes share (the embedded Redis lives inside one serve process)")
			}
			return work(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	engineFlags(cmd.Flags(), &cfg, true)
	cmd.Flags().BoolVar(&cfg.noWatch, "no-watch", false, "do not reload the workflows when their files change (SIGHUP still does)")
	cmd.Flags().StringVar(&cfg.metricsAddr, "metrics", "", "`address` to serve /metrics, /healthz and /readyz on (none by default)")
	return cmd
}

// work runs steps until ctx ends.
func work(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	// SIGHUP reloads the workflows; taken from the start, so that one sent while
	// starting does not stop the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, err := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	if err != nil {
		return err
	}
	w, err := startWorker(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	reloadOnSignal(hup, w.config, done)
	select {
	case <-ctx.Done():
	case err := <-w.errc:
		log.Error("metrics listener failed; shutting down", "err", err)
	}
	log.Info("shutting down: finishing steps in progress")
	began := time.Now()
	err = w.stop()
	logStopped(log, began, w.pool.Stopped(), err)
	return err
}

// worker is a running worker: the engine's runtime, and a listener for its metrics
// and health when cfg.metricsAddr is set.
type worker struct {
	*engineRuntime
	metricsOut *metricsListener // nil without one
	config     *reloader
	stopWatch  context.CancelFunc
	errc       chan error
	draining   atomic.Bool // stopping: /readyz answers 503
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
		cfg.own = []ownListener{{ln.Addr().String(), "metrics listener"}}
	}
	rt, err := startRuntime(ctx, cfg, log, stderr)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	w := &worker{engineRuntime: rt, errc: make(chan error, 1)}
	w.config = newReloader(cfg.dir, rt.kinds, rt.set, rt.warnings, rt.warningsText, log, diagnosticsTo(cfg.logFormat, stderr), rt.metrics, func(set *workflows.Set) {
		rt.apis.Use(set.APIs()) // the apis' limits hold for the runs queued before too
		rt.engine.Use(set)
	})
	w.stopWatch = watchFiles(cfg, w.config, log, "SIGHUP")
	args := append(rt.build.logAttrs(), "workflows", len(rt.set.Workflows()), "workers", cfg.workers)
	if ln != nil {
		w.metricsOut = serveMetrics(ln, rt.metrics, func(ctx context.Context) error {
			return readyUnlessDraining(ctx, rt.engine, &w.draining)
		}, log, w.errc)
		args = append(args, "metrics", "http://"+dialable(w.metricsOut.addr)+"/metrics")
	}
	log.Info("hookflow worker running", args...)
	return w, nil
}

// stop stops the workers and Redis, then closes the metrics listener.
func (w *worker) stop() error {
	w.draining.Store(true)
	w.config.Close() // after a reload in progress: nothing restarts what stops below
	w.stopWatch()
	err := w.engineRuntime.stop() // /readyz (503) and /metrics answer while steps finish
	ctx, cancel := context.WithTimeout(context.Background(), adminGrace)
	defer cancel()
	return errors.Join(err, w.metricsOut.shutdown(ctx))
}
