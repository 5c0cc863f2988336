package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// failedJoins starts a run of forEachRetrySrc whose item 1 fails every attempt, one
// of parallelSrc whose crm step fails, and one of parallelSrc whose lines step fails
// at its item 1: each is dead-lettered at its join.
func failedJoins(t *testing.T, b *redistest.Backend) (e *Engine, each, block, blockEach string) {
	t.Helper()
	tg, lines := newTarget(t, 0), newTarget(t, 0)
	tg.failPath("/reserve/1", http.StatusServiceUnavailable)
	tg.failPath("/crm", http.StatusBadRequest)
	lines.failPath("/line/1", http.StatusBadRequest)
	src := strings.ReplaceAll(forEachRetrySrc+parallelSrc, "URL", tg.srv.URL) +
		strings.NewReplacer("URL", lines.srv.URL, `workflow "order"`, `workflow "order_lines"`).Replace(parallelSrc)
	e, set := httpEngine(t, b, src)
	ctx := context.Background()
	start := func(wf, body string) string {
		id, err := e.Start(ctx, set.Workflow(wf), event(body))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	each, block = start("retry_items", items(3)), start("order", `{"lines": [1]}`)
	blockEach = start("order_lines", `{"lines": [1, 2, 3]}`)
	for id, dead := range map[string]string{each: each + ":reserve:join", block: block + ":notify:join", blockEach: blockEach + ":notify:join"} {
		if r := waitRun(t, e, id); r.Status != RunFailed || r.DeadLetter != dead {
			t.Fatalf("run %+v, want failed with dead letter %s", r.RunSummary, dead)
		}
	}
	return e, each, block, blockEach
}

// A for_each step's or a parallel block's dead letter is its join's, RUN:STEP:join:
// RUN:STEP retries it all the same, and an id of no dead letter of a run that has one
// is told which it has.
func TestRetryDeadLetterByRunAndStep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, each, block, _ := failedJoins(t, b)
		ctx := context.Background()
		_, err := e.RetryDeadLetter(ctx, block+":crm", ReplayOptions{})
		var none *NoDeadLetterError
		if !errors.As(err, &none) || !errors.Is(err, ErrNotFound) || len(none.Run) != 1 || none.Run[0].ID != block+":notify:join" {
			t.Fatalf("retrying %s:crm: %v, want the run's dead letter named", block, err)
		}
		if want := "no dead letter " + block + ":crm; run " + block + " has dead letter " + block + ":notify:join (step notify)"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		again, err := e.RetryDeadLetter(ctx, each+":reserve", ReplayOptions{})
		if err != nil || again.RunID != each || strings.Join(again.From, ",") != "reserve[1]" {
			t.Fatalf("retrying %s:reserve: %+v, %v", each, again, err)
		}
		waitRun(t, e, each) // fails again, item 1 still failing
		for _, id := range []string{"nope:reserve", "nope", ""} {
			if _, err := e.RetryDeadLetter(ctx, id, ReplayOptions{}); !errors.As(err, &none) || len(none.Run) != 0 {
				t.Errorf("retrying %q: %v, want not found with no dead letters named", id, err)
			}
		}
	})
}

// The join of a for_each step or a parallel block runs once: its dead letter counts
// the attempts of the item or step that failed it, and names it.
func TestDeadLetterOfAJoinCountsWhatFailedIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, each, block, blockEach := failedJoins(t, b)
		dead, err := deadLetters(e)
		if err != nil || len(dead) != 3 {
			t.Fatalf("dead letters %+v, %v", dead, err)
		}
		got := map[string]string{}
		for _, d := range dead {
			got[d.ID] = fmt.Sprintf("%s %d %s", d.Step, d.Attempts, d.Failed)
		}
		for id, want := range map[string]string{each + ":reserve:join": "reserve 5 reserve[1]", block + ":notify:join": "notify 1 notify/crm",
			blockEach + ":notify:join": "notify 1 notify/lines[1]"} {
			if got[id] != want {
				t.Errorf("dead letter %s: %q, want %q", id, got[id], want)
			}
		}
	})
}

// The dead letters of one run are read from the run, however many others died after
// them: each with what failed its join, as the listing has it; none for a run that has
// none, or does not exist.
func TestDeadLettersOfARun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, each, block, _ := failedJoins(t, b)
		ctx := context.Background()
		for run, want := range map[string]string{each: each + ":reserve:join reserve 5 reserve[1]",
			block: block + ":notify:join notify 1 notify/crm", "nope": ""} {
			page, err := e.DeadLetters(ctx, DeadLetterFilter{Run: run, Limit: 1, Cursor: "0-0"})
			if err != nil {
				t.Fatalf("dead letters of %s: %v", run, err)
			}
			var got []string
			for _, d := range page.DeadLetters {
				got = append(got, fmt.Sprintf("%s %s %d %s", d.ID, d.Step, d.Attempts, d.Failed))
			}
			if strings.Join(got, "; ") != want || page.Next != "" || page.DeadLetters == nil {
				t.Errorf("dead letters of %s: %q (next %q), want %q", run, got, page.Next, want)
			}
		}
	})
}

// A page of dead letters that fills before a long run of entries whose jobs are gone
// reads past them scanBatch at a time, not one by one.
func TestDeadLettersPastAFullPageReadGoneEntriesInBatches(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	const shards, gone = 4, 3000
	e := New(b.Client, Options{Logger: quiet, Shards: shards})
	sh := e.q.shardFor("wf0")
	base := time.Now().Add(-time.Hour).UnixMilli()
	pipe := b.Client.Pipeline()
	for i := range gone { // their jobs expired
		pipe.ZAdd(ctx, sh.dead(), redis.Z{Score: float64(base - 100000 + int64(i)), Member: fmt.Sprintf("old%05d:step", i)})
	}
	for i := range 3 {
		id := fmt.Sprintf("run%02d:step", i)
		pipe.HSet(ctx, sh.job(id), "run", "run", "wf", "wf0", "step", "step", "attempt", 1, "dead", base+int64(i))
		pipe.ZAdd(ctx, sh.dead(), redis.Z{Score: float64(base + int64(i)), Member: id})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	b.Client.AddHook(trips)
	for _, limit := range []int{3, 4} {
		trips.n.Store(0)
		page, err := e.DeadLetters(ctx, DeadLetterFilter{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.DeadLetters) != 3 || page.Next != "" {
			t.Errorf("limit %d: %d dead letters, next %q", limit, len(page.DeadLetters), page.Next)
		}
		// A read of each shard's index (two ranges) and one of the jobs, per batch: the
		// first, those of the gone entries, and the last, which finds none.
		batches := int64(1 + gone/scanBatch + 1)
		if n := trips.n.Load(); n > batches*(2*shards+1)+1 { // and the page's joins' failures
			t.Errorf("limit %d: %d round trips, more than %d batches take", limit, n, batches)
		}
	}
}
