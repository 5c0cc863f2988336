package main

import (
	"context"
	"fmt"
	"io"
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
	rt, err := startRuntime(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	log.Info("hookflow worker running", "workflows", len(rt.set.Workflows()), "workers", cfg.workers)
	<-ctx.Done()
	log.Info("shutting down: finishing steps in progress")
	return rt.stop()
}
