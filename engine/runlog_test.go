package engine

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkRunFinishedLine: the "run finished" line as logFinished writes it, against
// the slog.Logger.Info call it replaced, to a JSON handler on io.Discard.
//
//	go test -run XXX -bench BenchmarkRunFinishedLine -benchmem ./engine
func BenchmarkRunFinishedLine(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	const run, wf = "01m8xad5ejmrh4zweea3p74e4w", "bench_relay"
	b.Run("logFinished", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logFinished(log, run, wf, RunSucceeded, 12, "", "")
		}
	})
	b.Run("Logger.Info", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			log.Info("run finished", "run", run, "workflow", wf, "status", RunSucceeded, "duration_ms", int64(12))
		}
	})
}
