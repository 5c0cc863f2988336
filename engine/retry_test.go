package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// downstream is an API that answers each call with the next status of a script, and
// records the calls' paths and Idempotency-Keys.
type downstream struct {
	mu       sync.Mutex
	statuses []int // answered in turn; the last one repeats
	calls    []call
	srv      *httptest.Server
}

type call struct {
	path, key string
	at        time.Time
}

func newDownstream(t *testing.T, statuses ...int) *downstream {
	d := &downstream{statuses: statuses}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.calls = append(d.calls, call{r.URL.Path, r.Header.Get("Idempotency-Key"), time.Now()})
		code := d.statuses[0]
		if len(d.statuses) > 1 {
			d.statuses = d.statuses[1:]
		}
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *downstream) answer(statuses ...int) {
	d.mu.Lock()
	d.statuses = statuses
	d.mu.Unlock()
}

func (d *downstream) list() []call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]call(nil), d.calls...)
}

// httpEngine runs workflows of real http steps, allowed to call loopback.
func httpEngine(t *testing.T, b *redistest.Backend, src string) (*Engine, *workflows.Set) {
	t.Helper()
	return httpEngineLogging(t, b, src, quiet)
}

// httpEngineLogging is httpEngine with the engine's log going to log.
func httpEngineLogging(t *testing.T, b *redistest.Backend, src string, log *slog.Logger) (*Engine, *workflows.Set) {
	t.Helper()
	k := workflows.NewKinds()
	client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	actions.Register(k, actions.Options{Client: client, Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Shards: b.Shards, Logger: log, Kinds: k})
	e.Use(set)
	startPool(t, e, 4)
	return e, set
}

const retrySrc = `
workflow "pay" {
  step "http" "record" {
    url  = "%s/record"
    json = { id = "{{ event.body.id }}" }
  }
  step "http" "charge" {
    url  = "%s/charge"
    json = { id = "{{ event.body.id }}" }
    retry {
      attempts = 3
      backoff  = "exponential"
      initial  = "100ms"
      max      = "300ms"
    }
  }
}
`

func retryWorkflow(url string) string {
	return strings.ReplaceAll(retrySrc, "%s", url)
}

func TestRetriesUntilTheStepSucceeds(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, 200)
		e, set := httpEngine(t, b, retryWorkflow(api.srv.URL))
		api.answer(200, 500, 500, 200) // record, then charge fails twice
		id, err := e.Start(context.Background(), set.Workflow("pay"), event(`{"id": 7}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "succeeded" {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		calls := api.list()
		if len(calls) != 4 {
			t.Fatalf("%d calls, want record once and charge 3 times: %+v", len(calls), calls)
		}
		for i, c := range calls[1:] {
			if c.path != "/charge" || c.key != id+":charge" {
				t.Errorf("attempt %d: %s with key %q, want /charge with %q", i+1, c.path, c.key, id+":charge")
			}
		}
		// Waits are within the policy: up to 100ms after the first failure, up to
		// 200ms after the second (full jitter), never more than max.
		for i, limit := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
			if gap := calls[i+2].at.Sub(calls[i+1].at); gap > limit+150*time.Millisecond {
				t.Errorf("wait before attempt %d was %s, the policy allows up to %s", i+2, gap, limit)
			}
		}
		charge := r.Steps[1]
		if charge.Status != "succeeded" || charge.Attempts != 3 {
			t.Errorf("charge %+v, want succeeded after 3 attempts", charge)
		}
	})
}

// A step tried more than once took the time from its first attempt's start to its last's
// end, the wait between them included: not only its last attempt's, which took next to
// nothing here.
func TestARetriedStepsTimeSpansItsAttempts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, 500, 200) // fails once, then succeeds
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "pay" {
  step "http" "charge" {
    url = "%s/charge"
    retry {
      attempts = 2
      backoff  = "constant"
      initial  = "300ms"
    }
  }
}
`, "%s", api.srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("pay"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		s := r.Steps[0]
		if r.Status != "succeeded" || s.Attempts != 2 || s.DurationMS == nil || s.StartedAt == nil || s.FinishedAt == nil {
			t.Fatalf("run %s, step %+v", r.Status, s)
		}
		if *s.DurationMS < 300 {
			t.Errorf("the step took %dms: its last attempt's time, not its attempts' and the 300ms between", *s.DurationMS)
		}
		if got := s.FinishedAt.Sub(*s.StartedAt).Milliseconds(); got != *s.DurationMS {
			t.Errorf("started %s, finished %s: %dms apart, but duration_ms is %d", s.StartedAt, s.FinishedAt, got, *s.DurationMS)
		}
	})
}

// Each failed attempt that will be tried again is logged "step failed; retrying" at
// INFO, with the run, workflow, step, attempt, the wait in whole milliseconds (as every
// duration in the logs: retry_in_ms, as run finished has duration_ms) and the error.
func TestARetryIsLogged(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, 200, 500, 200) // record, then charge fails once
		var logs testutil.LogBuffer
		e, set := httpEngineLogging(t, b, retryWorkflow(api.srv.URL), slog.New(slog.NewJSONHandler(&logs, nil)))
		id, err := e.Start(context.Background(), set.Workflow("pay"), event(`{"id": 7}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != "succeeded" {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		lines := logs.Lines(`"msg":"step failed; retrying"`)
		if len(lines) != 1 {
			t.Fatalf("%d retries logged, want 1:\n%s", len(lines), logs.String())
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
			t.Fatal(err)
		}
		if line["level"] != "INFO" || line["run"] != id || line["workflow"] != "pay" || line["step"] != "charge" ||
			line["attempt"] != float64(1) || !strings.Contains(fmt.Sprint(line["err"]), "500") {
			t.Errorf("the retry's line: %s", lines[0])
		}
		// The policy waits up to 100ms after the first failure (full jitter).
		if ms, ok := line["retry_in_ms"].(float64); !ok || ms != float64(int64(ms)) || ms < 0 || ms > 100 || line["retry_in"] != nil {
			t.Errorf("the retry's line should say its wait as retry_in_ms, whole milliseconds up to 100: %s", lines[0])
		}
	})
}

func TestAStepOutOfAttemptsIsDeadLetteredAndReplayed(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, 200)
		e, set := httpEngine(t, b, retryWorkflow(api.srv.URL))
		api.answer(200, 500) // record, then charge always fails
		id, err := e.Start(context.Background(), set.Workflow("pay"), event(`{"id": 8}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "failed" || !strings.Contains(r.Error, "status 500") || r.DeadLetter != id+":charge" {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if n := len(api.list()); n != 4 {
			t.Fatalf("%d calls, want 1 + 3 attempts", n)
		}
		dead, err := deadLetters(e)
		if err != nil || len(dead) != 1 {
			t.Fatalf("dead letters %+v, %v", dead, err)
		}
		if d := dead[0]; d.ID != id+":charge" || d.Run != id || d.Step != "charge" || d.Attempts != 3 ||
			!strings.Contains(d.Error, "status 500") || d.Workflow != "pay" {
			t.Errorf("dead letter %+v", d)
		}
		if _, err := e.Replay(context.Background(), id, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		// A replay of a run that is no longer failed is refused.
		if _, err := e.Replay(context.Background(), id, ReplayOptions{}); err == nil {
			t.Error("a queued run was replayed again")
		}
		r = waitRun(t, e, id)
		if r.Status == "failed" {
			// The API still fails: the replay dead-letters again, with a fresh count.
			if n := len(api.list()); n != 7 {
				t.Errorf("%d calls after the replay, want 3 more", n)
			}
		}

		// The API is fixed: retrying the dead letter finishes the run without
		// calling record again.
		api.answer(200)
		dead, _ = deadLetters(e)
		if len(dead) != 1 {
			t.Fatalf("dead letters after the failed replay: %+v", dead)
		}
		again, err := e.RetryDeadLetter(context.Background(), dead[0].ID, ReplayOptions{})
		if err != nil || again.RunID != id {
			t.Fatalf("retry %+v, %v", again, err)
		}
		r = waitRun(t, e, id)
		if r.Status != "succeeded" || r.Replays != 2 || r.DeadLetter != "" {
			t.Fatalf("run after the fix %+v", r.RunSummary)
		}
		records := 0
		for _, c := range api.list() {
			if c.path == "/record" {
				records++
			}
		}
		if records != 1 {
			t.Errorf("record ran %d times; a replay repeated a step that had succeeded", records)
		}
		if dead, _ := deadLetters(e); len(dead) != 0 {
			t.Errorf("dead letters left: %+v", dead)
		}
		if _, err := e.RetryDeadLetter(context.Background(), id+":charge", ReplayOptions{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("retrying a dead letter that is gone: %v", err)
		}
	})
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		api := newDownstream(t, 200)
		e, set := httpEngine(t, b, retryWorkflow(api.srv.URL))
		api.answer(200, 422)
		id, _ := e.Start(context.Background(), set.Workflow("pay"), event(`{"id": 9}`))
		r := waitRun(t, e, id)
		if r.Status != "failed" || r.Steps[1].Attempts != 1 {
			t.Errorf("run %s, charge %+v: a 422 should fail at once", r.Status, r.Steps[1])
		}
		if n := len(api.list()); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
}

func TestRetryingStepShowsItsNextAttempt(t *testing.T) {
	b := redistest.Mini(t)
	api := newDownstream(t, 200)
	src := strings.Replace(retryWorkflow(api.srv.URL), `initial  = "100ms"`, `initial  = "1m"`, 1)
	src = strings.Replace(src, `max      = "300ms"`, `max      = "1m"`, 1)
	src = strings.Replace(src, `backoff  = "exponential"`, `backoff  = "constant"`, 1)
	e, set := httpEngine(t, b, src)
	api.answer(200, 503)
	id, _ := e.Start(context.Background(), set.Workflow("pay"), event(`{"id": 1}`))
	var s StepRun
	testutil.Eventually(t, 10*time.Second, "the second step retrying", func() bool {
		r, err := e.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		s = r.Steps[1]
		return s.Status == "retrying"
	})
	if s.NextAttemptAt == nil || s.NextAttemptAt.Sub(*s.FinishedAt) != time.Minute || s.Attempts != 1 ||
		!strings.Contains(s.Error, "503") {
		t.Errorf("retrying step %+v", s)
	}
	data, _ := json.Marshal(s)
	if !strings.Contains(string(data), `"next_attempt_at"`) {
		t.Errorf("JSON %s", data)
	}
}

func TestBackoff(t *testing.T) {
	exp := &workflows.Retry{Attempts: 10, Exponential: true, Initial: time.Second, Max: 5 * time.Second}
	top := func(n int64) int64 { return n - 1 } // the random pick at its largest
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 9: 5 * time.Second} {
		if got := backoff(exp, attempt, 0, top); got != want {
			t.Errorf("exponential after attempt %d: at most %s, want %s", attempt, got, want)
		}
	}
	if got := backoff(exp, 3, 0, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("full jitter can wait 0, got %s", got)
	}
	constant := &workflows.Retry{Attempts: 3, Initial: 2 * time.Second, Max: 5 * time.Second}
	if got := backoff(constant, 2, 0, top); got != 2*time.Second {
		t.Errorf("constant %s", got)
	}
	if got := backoff(constant, 1, 4*time.Second, top); got != 4*time.Second {
		t.Errorf("Retry-After of 4s gave %s", got)
	}
	if got := backoff(constant, 1, time.Hour, top); got != 5*time.Second {
		t.Errorf("Retry-After past max gave %s, want max", got)
	}
}

// TestEveryAttemptKeepsItsRequest: the record of a step, and of an item of a for_each
// step, keeps what each of its attempts sent and got back.
func TestEveryAttemptKeepsItsRequest(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var mu sync.Mutex
		seen := map[string]int{}
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Path]++
			first := seen[r.URL.Path] == 1
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if first { // every path fails once
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"busy":true}`))
				return
			}
			w.Write([]byte(`{"ok":true}`))
		}))
		defer api.Close()
		e, set := httpEngine(t, b, strings.ReplaceAll(`
workflow "sync" {
  step "http" "create" {
    url     = "%s/orders"
    headers = { X-Trace = "t-1" }
    json    = { id = "{{ event.body.id }}" }
    retry {
      attempts = 3
      initial  = "10ms"
    }
  }
  step "http" "lines" {
    for_each = "event.body.lines"
    method   = "PUT"
    url      = "%s/lines/{{ each.key }}"
    json     = { sku = "{{ each.value }}" }
    retry {
      attempts = 3
      initial  = "10ms"
    }
  }
}`, "%s", api.URL))
		id, err := e.Start(context.Background(), set.Workflow("sync"), event(`{"id": 7, "lines": ["a1", "b2"]}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "succeeded" {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		check := func(what string, s StepRun, method, path, body string) {
			t.Helper()
			if len(s.Requests) != 2 {
				t.Fatalf("%s keeps %d requests, want one per attempt: %+v", what, len(s.Requests), s.Requests)
			}
			for i, q := range s.Requests {
				wantStatus := []int{503, 200}[i]
				if q.Attempt != i+1 || q.Method != method || q.URL != api.URL+path || q.Status != wantStatus ||
					q.Body != body || q.Headers["Idempotency-Key"] == "" || q.Response == nil {
					t.Errorf("%s, attempt %d: %+v", what, i+1, q)
				}
			}
			if first := s.Requests[0]; !strings.Contains(first.Error, "status 503") || first.Response.Body != `{"busy":true}` {
				t.Errorf("%s: the failed attempt's error and answer: %q %+v", what, first.Error, first.Response)
			}
			if last := s.Requests[1]; last.Error != "" || last.Response.Body != `{"ok":true}` {
				t.Errorf("%s: the last attempt: %+v", what, last)
			}
		}
		check("create", r.Steps[0], "POST", "/orders", `{"id":7}`)
		if r.Steps[0].Requests[0].Headers["X-Trace"] != "t-1" {
			t.Errorf("create's headers: %v", r.Steps[0].Requests[0].Headers)
		}
		if len(r.Steps[1].Items) != 2 {
			t.Fatalf("lines: %+v", r.Steps[1])
		}
		check("lines[0]", r.Steps[1].Items[0], "PUT", "/lines/0", `{"sku":"a1"}`)
		check("lines[1]", r.Steps[1].Items[1], "PUT", "/lines/1", `{"sku":"b2"}`)
	})
}

// deadLetters is the first page of e's dead letters, ten at most.
func deadLetters(e *Engine) ([]DeadLetter, error) {
	page, err := e.DeadLetters(context.Background(), DeadLetterFilter{Limit: 10})
	if err != nil {
		return nil, err
	}
	return page.DeadLetters, nil
}

// storeDeadLetters stores twelve jobs of three workflows in e's dead letters, two by
// millisecond, all but the sixth dead letters now (its run was replayed), and returns
// the ids of the dead letters, newest first.
func storeDeadLetters(t *testing.T, b *redistest.Backend, e *Engine) []string {
	t.Helper()
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).UnixMilli()
	var want []string
	for i := range 12 {
		id := fmt.Sprintf("run%02d:step", i)
		wf := fmt.Sprintf("wf%d", i%3)
		sh := e.q.shardFor(wf)
		ms := base + int64(i/2) // two by millisecond
		fields := []any{"run", fmt.Sprintf("run%02d", i), "wf", wf, "step", "step", "attempt", 1}
		if i != 5 {
			fields = append(fields, "dead", ms)
			want = append([]string{id}, want...)
		}
		if err := b.Client.HSet(ctx, sh.job(id), fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := b.Client.ZAdd(ctx, sh.dead(), redis.Z{Score: float64(ms), Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// Dead letters are listed a page at a time, newest first, past any limit: those of
// one millisecond are not split or repeated, and a job that is no longer one (its run
// was replayed) is left out.
func TestDeadLettersPage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Logger: quiet, Shards: 4})
		want := storeDeadLetters(t, b, e)
		var got []string
		f := DeadLetterFilter{Limit: 3}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("no end after %d pages: %v", pages, got)
			}
			page, err := e.DeadLetters(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.DeadLetters {
				got = append(got, d.ID)
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %v\nwant   %v", got, want)
		}
		if _, err := e.DeadLetters(ctx, DeadLetterFilter{Cursor: "x"}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("a bad cursor: %v", err)
		}
	})
}

// A full page has a next page only when a dead letter follows it: a page holding the
// last ones, exactly as many as asked, has none, so no next page comes back empty,
// whether the entry past it is no dead letter now or there is none.
func TestDeadLettersFullLastPageHasNoNext(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Logger: quiet, Shards: 4})
		storeDeadLetters(t, b, e) // 11 dead letters; the 7th newest entry is none
		for _, c := range []struct {
			limit int
			pages []int // how many dead letters each page has
		}{{11, []int{11}}, {12, []int{11}}, {10, []int{10, 1}}, {6, []int{6, 5}}, {5, []int{5, 5, 1}}} {
			t.Run(fmt.Sprint(c.limit), func(t *testing.T) {
				var got []int
				f := DeadLetterFilter{Limit: c.limit}
				for range 10 {
					page, err := e.DeadLetters(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, len(page.DeadLetters))
					if page.Next == "" {
						break
					}
					f.Cursor = page.Next
				}
				if fmt.Sprint(got) != fmt.Sprint(c.pages) {
					t.Errorf("pages of %v dead letters, want %v", got, c.pages)
				}
			})
		}
	})
}
