package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// usedMemory is INFO memory's used_memory: the bytes Redis holds for its data.
func usedMemory(tb testing.TB, rdb redis.UniversalClient) int64 {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no used_memory in INFO memory")
	return 0
}

// BenchmarkSeenKeyMemory measures, on a real redis-server, what a poll's seen keys
// cost in Redis memory (INFO memory, used_memory, before and after): a key the first
// poll records without a run (MarkSeen, "seen-bytes/key"), and the dedupe key of an
// item that started a run, which holds the run's id ("started-bytes/key": the memory
// of N starts with a dedupe key less that of N starts without, so the runs themselves
// are not counted). Keys are of 12-character item ids, with a 30-day window.
func BenchmarkSeenKeyMemory(b *testing.B) {
	const n = 20_000
	be := redistest.Real(b)
	e, set, _ := running(b, be, chainSrc, 0)
	wf := set.Workflow("chain")
	ctx := context.Background()
	window := 30 * 24 * time.Hour
	keys := func(round, kind int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("poll:%d-%d-%06d", round, kind, i)
		}
		return out
	}
	var seenBytes, startedBytes float64
	for round := range b.N {
		before := usedMemory(b, be.Client)
		if err := e.MarkSeen(ctx, wf, keys(round, 0), window); err != nil {
			b.Fatal(err)
		}
		seenBytes += float64(usedMemory(b, be.Client)-before) / n

		before = usedMemory(b, be.Client)
		for range n {
			if _, err := e.Start(ctx, wf, event(`{"id": "o"}`)); err != nil {
				b.Fatal(err)
			}
		}
		plain := usedMemory(b, be.Client) - before
		before = usedMemory(b, be.Client)
		for _, k := range keys(round, 1) {
			if _, _, err := e.StartOnce(ctx, wf, event(`{"id": "o"}`), k, window); err != nil {
				b.Fatal(err)
			}
		}
		startedBytes += float64(usedMemory(b, be.Client)-before-plain) / n
	}
	b.ReportMetric(seenBytes/float64(b.N), "seen-bytes/key")
	b.ReportMetric(startedBytes/float64(b.N), "started-bytes/key")
}
