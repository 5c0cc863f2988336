package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// failedJoins starts a run of forEachRetrySrc whose item 1 fails every attempt, and
// one of parallelSrc whose crm step fails: each is dead-lettered at its join.
func failedJoins(t *testing.T, b *redistest.Backend) (e *Engine, each, block string) {
	t.Helper()
	tg := newTarget(t, 0)
	tg.failPath("/reserve/1", http.StatusServiceUnavailable)
	tg.failPath("/crm", http.StatusBadRequest)
	e, set := httpEngine(t, b, strings.ReplaceAll(forEachRetrySrc+parallelSrc, "URL", tg.srv.URL))
	ctx := context.Background()
	each, err := e.Start(ctx, set.Workflow("retry_items"), event(items(3)))
	if err != nil {
		t.Fatal(err)
	}
	block, err = e.Start(ctx, set.Workflow("order"), event(`{"lines": [1]}`))
	if err != nil {
		t.Fatal(err)
	}
	for id, dead := range map[string]string{each: each + ":reserve:join", block: block + ":notify:join"} {
		if r := waitRun(t, e, id); r.Status != RunFailed || r.DeadLetter != dead {
			t.Fatalf("run %+v, want failed with dead letter %s", r.RunSummary, dead)
		}
	}
	return e, each, block
}

// A for_each step's or a parallel block's dead letter is its join's, RUN:STEP:join:
// RUN:STEP retries it all the same, and an id of no dead letter of a run that has one
// is told which it has.
func TestRetryDeadLetterByRunAndStep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, each, block := failedJoins(t, b)
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
