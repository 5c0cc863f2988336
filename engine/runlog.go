package engine

import (
	"context"
	"log/slog"
	"time"
)

// logFinished writes a run's one "run finished" line: INFO with its status and how
// long it took, WARN with its error and the step that failed it (the run's
// failed_step; none when it failed before its first step) when it failed, and extra
// after them (a cancel's: who cancelled it). It is written once per run, on the
// busiest path there is, so the record is made as slog.Logger.Info would make it but
// with its values typed rather than boxed, and without the caller's program counter,
// which slog takes for every record: the source it gives a handler that shows one
// would name this function, not anything of the run's.
func logFinished(log *slog.Logger, run, workflow string, status RunStatus, took int64, failure, failedStep string, extra ...slog.Attr) {
	level := slog.LevelInfo
	if status == RunFailed {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	h := log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, "run finished", 0)
	r.AddAttrs(slog.String("run", run), slog.String("workflow", workflow), slog.String("status", string(status)),
		slog.Int64("duration_ms", took))
	if status == RunFailed && failedStep != "" {
		r.AddAttrs(slog.String("step", failedStep))
	}
	if status == RunFailed {
		r.AddAttrs(slog.String("err", failure))
	}
	r.AddAttrs(extra...)
	_ = h.Handle(ctx, r)
}
