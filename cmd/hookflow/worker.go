package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

func workerCommand() *cobra.Command {
	cfg := serveConfig{dir: "."}
	cmd := &cobra.Command{
		Use:     "worker --redis URL [DIR]",
		GroupID: "run",
		Short:   "Run steps only, sharing a Redis with serve processes",
		Long: `worker runs the steps of the workflows in DIR (default: the current directory)
from the Redis at --redis, with no listeners: the same workflows and queue as serve.
Start as many as the work needs; every serve and worker process sharing one Redis
shares the steps. A worker needs a real Redis: the embedded one lives inside one serve
process. SIGINT or SIGTERM stops it after the steps in progress finish (up to 30s).`,
		Example: `  hookflow worker --redis redis://redis:6379/0 --workers 128 workflows/
  HOOKFLOW_REDIS=redis://redis:6379/0 hookflow worker /etc/hookflow`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.dir = args[0]
			}
			if cfg.redisURL == "" {
				return usage("--redis is required: a worker runs the steps of a Redis that serve processes share (the embedded Redis lives inside one serve process)")
			}
			return work(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	engineFlags(cmd.Flags(), &cfg)
	return cmd
}

// work runs steps until ctx ends.
func work(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	log, err := newLogger(cfg.logFormat, stderr)
	if err != nil {
		return err
	}
	rt, err := startRuntime(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	log.Info("hookflow worker running", "workflows", len(rt.set.Workflows()), "workers", cfg.workers)
	<-ctx.Done()
	log.Info("shutting down: finishing steps in progress")
	return rt.stop()
}
