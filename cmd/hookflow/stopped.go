package main

import (
	"log/slog"
	"time"

	"github.com/hookflow/hookflow/engine"
)

// logStopped writes the last line of serve and worker, once their shutdown is over:
// how long it took since it began and what became of the steps in progress (finished,
// handed back to the queue for another worker, or left to run again once their lease
// expires, when Redis answered neither their outcome nor their hand-back). WARN with the
// error when part of the shutdown failed (a deadline passed, or steps were left leased).
func logStopped(log *slog.Logger, began time.Time, steps engine.StopReport, err error) {
	args := []any{"duration_ms", time.Since(began).Milliseconds(), "steps_ended", steps.Ended,
		"steps_handed_back", steps.HandedBack, "steps_left_leased", steps.Leased}
	if err != nil {
		log.Warn("stopped", append(args, "err", err)...)
		return
	}
	log.Info("stopped", args...)
}
