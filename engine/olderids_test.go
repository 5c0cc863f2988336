package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const olderChildSrc = `
workflow "parent2" {
  step "workflow" "kids" {
    for_each = "event.body.m"
    workflow = "child"
    input    = { who = "{{ each.key }}" }
  }
  step "http" "parent2_done" {
    url = "SINK/parent2_done"
  }
}
workflow "child" {
  step "wait" "cw" {
    timeout = "30m"
  }
  step "http" "child_done" {
    url = "SINK/child_done"
  }
}
`

// startOlderChild starts a run of wf with id as a build before map keys were
// percent-encoded started the child of a workflow step's unit: its event, as
// startChild wrote it then, names the parent's run, step and job.
func startOlderChild(t *testing.T, e *Engine, wf *workflows.Workflow, id, body string, parent workflows.EventParent) {
	t.Helper()
	ev := &workflows.Event{ID: id, Trigger: "workflow", ReceivedAt: time.Now().UTC(), ContentType: "application/json",
		Raw: body, Parent: &parent}
	if err := e.StartAs(context.Background(), wf, ev, id); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, id, RunWaiting)
}

// itemsWaiting waits until the n items of run id's first step wait for their children.
func itemsWaiting(t *testing.T, e *Engine, id string, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "every item waits for its child", func() bool {
		r, err := e.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Steps) == 0 || len(r.Steps[0].Items) != n {
			return false
		}
		for _, it := range r.Steps[0].Items {
			if it.Status != StatusWaiting {
				return false
			}
		}
		return true
	})
}

// A for_each item whose child run an older build started, under the id that build
// gave it (the key as it is), goes on with that child across the upgrade: it starts
// no second child, and the child's steps send their calls once, with the child's
// Idempotency-Keys. A run under an older id that is another's (key "x:d" named what
// item x's child started for its step d) is not taken: that item starts its own.
func TestItemGoesOnWithTheChildAnOlderBuildStarted(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		sink := testutil.NewSink(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(olderChildSrc, "SINK", sink.URL))
		ctx := context.Background()
		const parent = "upgraded"
		// The map's items, in key order: k:1 (0), plain (1), x:d (2).
		startOlderChild(t, e, set.Workflow("child"), parent+":kids:k:1", `{"who": "k:1"}`,
			workflows.EventParent{RunID: parent, Workflow: "parent2", Step: "kids", Job: parent + ":kids:0", Depth: 1})
		other := parent + ":kids:x:d" // the child that item x's child started for its step d
		startOlderChild(t, e, set.Workflow("child"), other, `{"who": "grandchild"}`,
			workflows.EventParent{RunID: parent + ":kids:x", Workflow: "mid", Step: "d", Job: parent + ":kids:x:d", Depth: 2})

		if err := e.StartAs(ctx, set.Workflow("parent2"), event(`{"m": {"k:1": 1, "x:d": 3, "plain": 2}}`), parent); err != nil {
			t.Fatal(err)
		}
		itemsWaiting(t, e, parent, 3)
		if _, err := e.Run(ctx, parent+":kids:k%3A1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a second child of item k:1 was started: %v", err)
		}
		for _, child := range []string{parent + ":kids:k:1", parent + ":kids:plain", parent + ":kids:x%3Ad"} {
			if _, err := e.Resume(ctx, child, "cw", resumeRequest(t, `{}`)); err != nil {
				t.Fatalf("resuming %s: %v", child, err)
			}
		}
		r := waitRun(t, e, parent)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		want := map[string]string{"kids[k:1]": parent + ":kids:k:1", "kids[plain]": parent + ":kids:plain",
			"kids[x:d]": parent + ":kids:x%3Ad"}
		for _, it := range r.Steps[0].Items {
			out, _ := it.Output.(map[string]any)
			if out["run_id"] != want[it.Path] {
				t.Errorf("item %s: run_id %v, want %s", it.Path, out["run_id"], want[it.Path])
			}
		}
		if o := waitStatus(t, e, other, RunWaiting); o.Status != RunWaiting {
			t.Errorf("the other run's child is %s", o.Status)
		}
		calls := sink.Keys()
		for _, key := range []string{parent + ":kids:k:1:child_done", parent + ":kids:plain:child_done",
			parent + ":kids:x%3Ad:child_done", parent + ":parent2_done"} {
			if calls[key] != 1 {
				t.Errorf("%s called %d times, want once (calls %v)", key, calls[key], calls)
			}
		}
		if len(calls) != 4 {
			t.Errorf("calls %v", calls)
		}
	})
}

// Cancelling a run cancels the child an older build started for one of its items.
func TestCancelReachesTheChildAnOlderBuildStarted(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set := httpEngine(t, b, strings.ReplaceAll(olderChildSrc, "SINK", "http://127.0.0.1:1"))
		ctx := context.Background()
		const parent = "upgraded"
		older := parent + ":kids:k:1"
		startOlderChild(t, e, set.Workflow("child"), older, `{"who": "k:1"}`,
			workflows.EventParent{RunID: parent, Workflow: "parent2", Step: "kids", Job: parent + ":kids:0", Depth: 1})
		if err := e.StartAs(ctx, set.Workflow("parent2"), event(`{"m": {"k:1": 1}}`), parent); err != nil {
			t.Fatal(err)
		}
		itemsWaiting(t, e, parent, 1)
		if _, err := e.Cancel(ctx, parent); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, older, RunCancelled)
	})
}

// An item of a map whose step an older build listed sends the Idempotency-Key that
// build sent, its key as it is, on every attempt; the items of a listing of this build
// send the key percent-encoded.
func TestItemOfAnOlderListingKeepsItsIdempotencyKey(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var (
			mu       sync.Mutex
			keys     []string
			arrived  = make(chan struct{})
			released = make(chan struct{})
			failed   bool
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get("Idempotency-Key")
			mu.Lock()
			keys = append(keys, key)
			first := len(keys) == 1
			fail := strings.HasSuffix(key, ":k:1") && !failed
			failed = failed || fail
			mu.Unlock()
			if first { // item a: the test marks the listing an older build's meanwhile
				close(arrived)
				<-released
			}
			if fail {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		defer srv.Close()
		src := `
workflow "calls" {
  step "http" "send" {
    for_each     = "event.body.m"
    max_parallel = 1
    url          = "` + srv.URL + `/send"
    retry {
      attempts = 2
      initial  = "10ms"
    }
  }
}
`
		e, set := httpEngine(t, b, src)
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("calls"), event(`{"m": {"a": 1, "k:1": 2}}`))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("item a sent nothing")
		}
		items := e.q.shardFor("calls").items(id, "send")
		if got := b.Client.HGet(ctx, items, "map").Val(); got != listedEncoded {
			t.Errorf("this build's listing has map %q, want %q", got, listedEncoded)
		}
		b.Client.HSet(ctx, items, "map", "1") // as builds before ids were encoded listed it
		close(released)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{id + ":send:a", id + ":send:k:1", id + ":send:k:1"}
		if strings.Join(keys, " ") != strings.Join(want, " ") {
			t.Errorf("Idempotency-Keys %q, want %q", keys, want)
		}
	})
}

// Of a map with keys "a:b" and "a%3Ab", whose children an older build started under
// the keys as they are, each item goes on with its own: item "a:b"'s id now is the
// one that build gave item "a%3Ab"'s child, which is not taken for it. An item whose
// id is another's child's, with no child of its own, fails rather than take it.
func TestItemWhoseIdIsAnotherItemsOlderChild(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		sink := testutil.NewSink(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(olderChildSrc, "SINK", sink.URL))
		ctx := context.Background()
		// The map's items, in key order: a%3Ab (0), a:b (1).
		start := func(parent string, both bool) {
			startOlderChild(t, e, set.Workflow("child"), parent+":kids:a%3Ab", `{"who": "a%3Ab"}`,
				workflows.EventParent{RunID: parent, Workflow: "parent2", Step: "kids", Job: parent + ":kids:0", Depth: 1})
			if both {
				startOlderChild(t, e, set.Workflow("child"), parent+":kids:a:b", `{"who": "a:b"}`,
					workflows.EventParent{RunID: parent, Workflow: "parent2", Step: "kids", Job: parent + ":kids:1", Depth: 1})
			}
			if err := e.StartAs(ctx, set.Workflow("parent2"), event(`{"m": {"a:b": 1, "a%3Ab": 2}}`), parent); err != nil {
				t.Fatal(err)
			}
		}

		const parent = "upgraded"
		start(parent, true)
		itemsWaiting(t, e, parent, 2)
		for _, child := range []string{parent + ":kids:a%3Ab", parent + ":kids:a:b"} {
			if _, err := e.Resume(ctx, child, "cw", resumeRequest(t, `{}`)); err != nil {
				t.Fatalf("resuming %s: %v", child, err)
			}
		}
		r := waitRun(t, e, parent)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		want := map[string]string{"kids[a:b]": parent + ":kids:a:b", "kids[a%3Ab]": parent + ":kids:a%3Ab"}
		for _, it := range r.Steps[0].Items {
			if out, _ := it.Output.(map[string]any); out["run_id"] != want[it.Path] {
				t.Errorf("item %s: run_id %v, want %s", it.Path, out["run_id"], want[it.Path])
			}
		}

		const lone = "lone"
		start(lone, false)
		if _, err := e.Resume(ctx, lone+":kids:a%3Ab", "cw", resumeRequest(t, `{}`)); err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, lone)
		if r.Status != RunFailed || !strings.Contains(r.Error, "the id of this item's child run is taken: run "+lone+":kids:a%3Ab is the child run an older build started for the item whose key is \"a%3Ab\"") {
			t.Errorf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
	})
}
