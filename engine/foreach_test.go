package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// target is an API for for_each and parallel runs: it records every call (path,
// Idempotency-Key, body), counts the calls in flight at once, answers with the path
// it was called on, and fails the paths it is told to.
type target struct {
	mu       sync.Mutex
	calls    []targetCall
	inFlight int
	peak     int
	fail     map[string]int // path -> status to answer
	hold     time.Duration  // how long each call takes
	srv      *httptest.Server
}

type targetCall struct {
	path, key, body string
}

func newTarget(t *testing.T, hold time.Duration) *target {
	tg := &target{fail: map[string]int{}, hold: hold}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.inFlight++
		tg.peak = max(tg.peak, tg.inFlight)
		tg.calls = append(tg.calls, targetCall{r.URL.Path, r.Header.Get("Idempotency-Key"), string(body)})
		code := tg.fail[r.URL.Path]
		tg.mu.Unlock()
		time.Sleep(tg.hold)
		tg.mu.Lock()
		tg.inFlight--
		tg.mu.Unlock()
		if code == 0 {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path})
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) list() []targetCall {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return slices.Clone(tg.calls)
}

func (tg *target) failPath(path string, status int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if status == 0 {
		delete(tg.fail, path)
		return
	}
	tg.fail[path] = status
}

// paths counts the calls by path.
func (tg *target) paths() map[string]int {
	out := map[string]int{}
	for _, c := range tg.list() {
		out[c.path]++
	}
	return out
}

const forEachSrc = `
workflow "reserve" {
  step "http" "reserve" {
    for_each     = "event.body.items"
    max_parallel = MAXPAR
    url          = "URL/reserve/{{ each.key }}"
    json         = { sku = "{{ each.value.sku }}" }
    on_error     = "ONERROR"
  }
  step "http" "after" {
    url  = "URL/after"
    json = { count = "{{ len(steps.reserve) }}", reserved = "{{ steps.reserve }}" }
  }
}
`

func forEachWorkflow(url string, maxParallel int, onError string) string {
	return strings.NewReplacer("URL", url, "MAXPAR", fmt.Sprint(maxParallel), "ONERROR", onError).Replace(forEachSrc)
}

// items is an event body of n items with skus s0, s1, ...
func items(n int) string {
	list := make([]map[string]any, n)
	for i := range list {
		list[i] = map[string]any{"sku": fmt.Sprintf("s%d", i)}
	}
	data, _ := json.Marshal(map[string]any{"items": list})
	return string(data)
}

// afterBody is what the step after the for_each step received.
func afterBody(t *testing.T, tg *target) map[string]any {
	t.Helper()
	for _, c := range tg.list() {
		if c.path == "/after" {
			var m map[string]any
			if err := json.Unmarshal([]byte(c.body), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("the step after the for_each step was not called")
	return nil
}

func TestForEachRunsEveryItem(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		for _, n := range []int{3, 0, 500} {
			t.Run(fmt.Sprintf("%d items", n), func(t *testing.T) {
				tg := newTarget(t, 0)
				e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
				id, err := e.Start(context.Background(), set.Workflow("reserve"), event(items(n)))
				if err != nil {
					t.Fatal(err)
				}
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("run %+v", r.RunSummary)
				}
				keys := map[string]bool{}
				for _, c := range tg.list() {
					if c.path == "/after" {
						continue
					}
					var i int
					fmt.Sscanf(c.path, "/reserve/%d", &i)
					if want := fmt.Sprintf("%s:reserve:%d", id, i); c.key != want || keys[c.key] {
						t.Fatalf("call %+v: key, want %s once", c, want)
					}
					if want := fmt.Sprintf(`{"sku":"s%d"}`, i); c.body != want {
						t.Fatalf("call %+v: body, want %s", c, want)
					}
					keys[c.key] = true
				}
				if len(keys) != n {
					t.Fatalf("%d items called, want %d", len(keys), n)
				}
				after := afterBody(t, tg)
				reserved, _ := after["reserved"].([]any)
				if after["count"] != float64(n) || len(reserved) != n {
					t.Fatalf("after got count %v and %d items", after["count"], len(reserved))
				}
				for i, v := range reserved {
					item := v.(map[string]any)
					if item["outcome"] != "succeeded" || item["body"].(map[string]any)["path"] != fmt.Sprintf("/reserve/%d", i) {
						t.Fatalf("item %d's output %v: not in order, or not succeeded", i, item)
					}
				}
				if s := r.Steps[0]; s.Status != StatusSucceeded || s.ItemCount != n || len(s.Items) != n {
					t.Fatalf("reserve: %s, %d items, %d shown", s.Status, s.ItemCount, len(s.Items))
				}
				if n > 0 {
					if it := r.Steps[0].Items[n-1]; it.Path != fmt.Sprintf("reserve[%d]", n-1) || it.Status != StatusSucceeded || it.Attempts != 1 {
						t.Errorf("last item %+v", it)
					}
				}
			})
		}
	})
}

func TestForEachOverAMap(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
		body := `{"items": {"us": {"sku": "a"}, "eu": {"sku": "b"}, "apac": {"sku": "c"}}}`
		id, err := e.Start(context.Background(), set.Workflow("reserve"), event(body))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		got := map[string]string{}
		for _, c := range tg.list() {
			if k, ok := strings.CutPrefix(c.path, "/reserve/"); ok {
				got[k] = c.key + " " + c.body
			}
		}
		for k, sku := range map[string]string{"us": "a", "eu": "b", "apac": "c"} {
			if want := fmt.Sprintf(`%s:reserve:%s {"sku":"%s"}`, id, k, sku); got[k] != want {
				t.Errorf("item %s: %q, want %q", k, got[k], want)
			}
		}
		reserved, _ := afterBody(t, tg)["reserved"].(map[string]any)
		if len(reserved) != 3 || reserved["eu"].(map[string]any)["body"].(map[string]any)["path"] != "/reserve/eu" {
			t.Errorf("the output of a map is a map by key: %v", reserved)
		}
	})
}

// An empty map gives a map, as an empty list gives a list: the listing records which
// it was, as no key can say.
func TestForEachOverNothingKeepsTheKind(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		for _, tt := range []struct{ name, body, want string }{
			{"an empty map", `{"items": {}}`, `{}`},
			{"an empty list", `{"items": []}`, `[]`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				tg := newTarget(t, 0)
				e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
				id, err := e.Start(ctx, set.Workflow("reserve"), event(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("run %+v", r.RunSummary)
				}
				if got, _ := json.Marshal(afterBody(t, tg)["reserved"]); string(got) != tt.want {
					t.Errorf("the next step read %s, want %s", got, tt.want)
				}
				items, err := e.q.readItems(ctx, e.q.shardFor("reserve"), id, "reserve")
				if err != nil || items == nil {
					t.Fatalf("items %v, %v", items, err)
				}
				if isMap := items.keys != nil; isMap != (tt.want == "{}") {
					t.Errorf("the items read back are a map: %v", isMap)
				}
			})
		}
	})
}

func TestForEachMaxParallel(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 15*time.Millisecond)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 2, "fail"))
		id, err := e.Start(context.Background(), set.Workflow("reserve"), event(items(12)))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		tg.mu.Lock()
		peak := tg.peak
		tg.mu.Unlock()
		if peak > 2 {
			t.Errorf("%d calls in flight at once, max_parallel is 2", peak)
		}
		if n := len(tg.list()); n != 13 {
			t.Errorf("%d calls, want 12 items and the step after", n)
		}
	})
}

// A failed item fails the step and the run; a replay runs that item only, and the
// step's time is the replay's: from its items listed again to the last one's end.
func TestForEachReplaysOnlyTheFailedItems(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 20*time.Millisecond)
		tg.failPath("/reserve/3", http.StatusUnprocessableEntity)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
		id, err := e.Start(context.Background(), set.Workflow("reserve"), event(items(5)))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(r.Error, "step reserve: item 3:") || r.DeadLetter == "" {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if s := r.Steps[0]; s.Status != StatusFailed || s.Items[3].Status != StatusFailed || s.Items[4].Status != StatusSucceeded {
			t.Fatalf("reserve %+v", s)
		}
		if got := tg.paths(); len(got) != 5 || got["/after"] != 0 {
			t.Fatalf("calls %v, want each item once and nothing after", got)
		}
		tg.failPath("/reserve/3", 0)
		if _, err := e.Replay(context.Background(), id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Replays != 1 {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		if d := r.Steps[0].DurationMS; d == nil || *d < 20 {
			t.Errorf("the replayed step took %s, want at least its item's 20ms", millisOf(d))
		}
		got := tg.paths()
		for i := range 5 {
			want := 1
			if i == 3 {
				want = 2
			}
			if n := got[fmt.Sprintf("/reserve/%d", i)]; n != want {
				t.Errorf("item %d called %d times, want %d", i, n, want)
			}
		}
		if reserved := afterBody(t, tg)["reserved"].([]any); reserved[3].(map[string]any)["outcome"] != "succeeded" {
			t.Errorf("after the replay the step after reads %v", reserved[3])
		}
	})
}

// With one item at a time, a failure leaves the items after it unstarted: they are
// cancelled, and a replay runs them with the failed one.
func TestForEachFailureStopsStartingItems(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.failPath("/reserve/1", http.StatusBadRequest)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 1, "fail"))
		id, err := e.Start(context.Background(), set.Workflow("reserve"), event(items(4)))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := tg.paths(); len(got) != 2 {
			t.Fatalf("calls %v, want items 0 and 1 only", got)
		}
		var statuses []Status
		for _, it := range r.Steps[0].Items {
			statuses = append(statuses, it.Status)
		}
		if fmt.Sprint(statuses) != "[succeeded failed cancelled cancelled]" {
			t.Errorf("items %v", statuses)
		}
		tg.failPath("/reserve/1", 0)
		if _, err := e.Replay(context.Background(), id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		want := map[string]int{"/reserve/0": 1, "/reserve/1": 2, "/reserve/2": 1, "/reserve/3": 1, "/after": 1}
		if got := tg.paths(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})
}

// With on_error = "continue" every item runs and the run goes on, reading which failed.
func TestForEachContinuesPastFailedItems(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.failPath("/reserve/0", http.StatusBadRequest)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 1, "continue"))
		id, err := e.Start(context.Background(), set.Workflow("reserve"), event(items(3)))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Steps[0].Status != StatusFailed {
			t.Fatalf("run %+v, reserve %s", r.RunSummary, r.Steps[0].Status)
		}
		reserved := afterBody(t, tg)["reserved"].([]any)
		first := reserved[0].(map[string]any)
		if first["outcome"] != "failed" || !strings.Contains(fmt.Sprint(first["error"]), "400") ||
			reserved[2].(map[string]any)["outcome"] != "succeeded" {
			t.Errorf("items as the next step reads them: %v", reserved)
		}
	})
}

const forEachIfSrc = `
workflow "some" {
  step "http" "ship" {
    for_each = "event.body.items"
    if       = "each.value.ship"
    url      = "URL/ship/{{ each.key }}"
  }
}
`

// if is evaluated per item; a skipped item records its outcome and calls nothing.
func TestForEachIfPerItem(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, strings.ReplaceAll(forEachIfSrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("some"), event(`{"items": [{"ship": true}, {"ship": false}, {"ship": true}]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := tg.paths(); fmt.Sprint(got) != "map[/ship/0:1 /ship/2:1]" {
			t.Errorf("calls %v", got)
		}
		if it := r.Steps[0].Items[1]; it.Status != StatusSkipped {
			t.Errorf("item 1 %+v", it)
		}
	})
}

// Each item's attempt is a step attempt in the metrics, under its step's name; a
// parallel block's steps under theirs.
func TestForEachAndParallelMetrics(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		reg := prometheus.NewRegistry()
		rec := &recorder{}
		set := loadSet(t, rec, `
workflow "fan" {
  step "probe" "items" {
    for_each = "event.body.xs"
    value    = "{{ each.value }}"
    fail     = "{{ each.value == 2 }}"
    on_error = "continue"
  }
  parallel "both" {
    step "probe" "left" {
      value = "l"
    }
    step "probe" "right" {
      value = "r"
    }
  }
}`)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Metrics: reg})
		e.Use(set)
		p := startPool(t, e, 4)
		id, err := e.Start(context.Background(), set.Workflow("fan"), event(`{"xs": [1, 2, 3]}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if err := p.Stop(context.Background()); err != nil { // every step done and counted
			t.Fatal(err)
		}
		got := metricstest.Series(t, reg, "hookflow_step_duration_seconds")
		for series, n := range map[string]float64{
			"kind=probe,outcome=succeeded,step=items,workflow=fan": 2,
			"kind=probe,outcome=failed,step=items,workflow=fan":    1,
			"kind=probe,outcome=succeeded,step=left,workflow=fan":  1,
			"kind=probe,outcome=succeeded,step=right,workflow=fan": 1,
		} {
			if got[series] != n {
				t.Errorf("%s: %v, want %v (all: %v)", series, got[series], n, got)
			}
		}
		wantSeries(t, reg, "hookflow_runs_finished_total", map[string]float64{"status=succeeded,workflow=fan": 1})
	})
}

const forEachRetrySrc = `
workflow "retry_items" {
  step "http" "reserve" {
    for_each = "event.body.items"
    url      = "URL/reserve/{{ each.key }}"
    retry {
      attempts = 5
      backoff  = "constant"
      initial  = "50ms"
    }
  }
}
`

// Each item is retried on its own, with the same Idempotency-Key at every attempt.
func TestForEachRetriesPerItem(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.failPath("/reserve/1", http.StatusServiceUnavailable)
		e, set := httpEngine(t, b, strings.ReplaceAll(forEachRetrySrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("retry_items"), event(items(3)))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "item 1 called", func() bool { return tg.paths()["/reserve/1"] >= 1 })
		tg.failPath("/reserve/1", 0)
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		var keys []string
		for _, c := range tg.list() {
			if c.path == "/reserve/1" {
				keys = append(keys, c.key)
			}
		}
		if distinct := slices.Compact(slices.Clone(keys)); len(keys) < 2 || len(distinct) != 1 || distinct[0] != id+":reserve:1" {
			t.Errorf("item 1's calls carried keys %q, want %s:reserve:1 at every attempt; calls %+v", keys, id, tg.list())
		}
		if it := r.Steps[0].Items[1]; it.Attempts != len(keys) || it.Status != StatusSucceeded {
			t.Errorf("item 1 %+v after %d calls", it, len(keys))
		}
		if n := tg.paths()["/reserve/0"]; n != 1 {
			t.Errorf("item 0 called %d times: a retry of one item repeated another", n)
		}
	})
}

// Every item of a map sends its key percent-encoded at every attempt: the first, which
// runs on the worker that listed the items, as the others and its own retries do.
func TestForEachMapKeysAreEncodedAtEveryAttempt(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		tg.failPath("/reserve/a:b", http.StatusServiceUnavailable)
		tg.failPath("/reserve/c:d", http.StatusServiceUnavailable)
		e, set := httpEngine(t, b, strings.ReplaceAll(forEachRetrySrc, "URL", tg.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("retry_items"), event(`{"items": {"a:b": 1, "c:d": 2}}`))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "both items tried twice", func() bool {
			return tg.paths()["/reserve/a:b"] >= 2 && tg.paths()["/reserve/c:d"] >= 2
		})
		tg.failPath("/reserve/a:b", 0)
		tg.failPath("/reserve/c:d", 0)
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v", r.RunSummary)
		}
		for path, want := range map[string]string{"/reserve/a:b": id + ":reserve:a%3Ab", "/reserve/c:d": id + ":reserve:c%3Ad"} {
			for i, c := range tg.list() {
				if c.path == path && c.key != want {
					t.Errorf("call %d to %s carried %q, want %q at every attempt", i, path, c.key, want)
				}
			}
		}
	})
}

// A for_each that gives more than 10,000 items, or no list at all, fails its step with
// a message that says so, and starts no item.
func TestForEachRefusesWhatIsNoCollection(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		tg := newTarget(t, 0)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
		for body, want := range map[string]string{
			items(10_001):           `for_each of step "reserve" gave 10001 items; at most 10000 are allowed`,
			`{"items": "a string"}`: `for_each of step "reserve": event.body.items gave a string, not a list or a map`,
		} {
			id, err := e.Start(context.Background(), set.Workflow("reserve"), event(body))
			if err != nil {
				t.Fatal(err)
			}
			r := waitRun(t, e, id)
			if r.Status != RunFailed || !strings.Contains(r.Error, want) {
				t.Errorf("run %+v, want an error with %q", r.RunSummary, want)
			}
		}
		if n := len(tg.list()); n != 0 {
			t.Errorf("%d calls", n)
		}
	})
}

// millisOf shows a duration in ms that may be missing.
func millisOf(d *int64) string {
	if d == nil {
		return "no time"
	}
	return fmt.Sprintf("%dms", *d)
}
