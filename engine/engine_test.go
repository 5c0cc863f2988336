package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// probe is a step kind for these tests: it renders its value, records the call, and
// fails when its fail attribute renders true. It also tracks how many probes run at once.
type probe struct {
	value, fail *workflows.Template
	rec         *recorder
}

type recorder struct {
	mu      sync.Mutex
	calls   []string // run:step, in order
	running atomic.Int32
	peak    atomic.Int32
	hold    chan struct{} // when set, every call waits on it
	entered chan struct{} // when set, every call sends on it first
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (p *probe) Do(ctx context.Context, c *workflows.Call) (any, error) {
	n := p.rec.running.Add(1)
	defer p.rec.running.Add(-1)
	for {
		peak := p.rec.peak.Load()
		if n <= peak || p.rec.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	if p.rec.entered != nil {
		p.rec.entered <- struct{}{}
	}
	if p.rec.hold != nil {
		select {
		case <-p.rec.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.rec.mu.Lock()
	p.rec.calls = append(p.rec.calls, c.IdempotencyKey())
	p.rec.mu.Unlock()
	v, err := p.value.Render(c.Env)
	if err != nil {
		return nil, err
	}
	if p.fail != nil {
		if f, _ := p.fail.Render(c.Env); f == true {
			return map[string]any{"value": v}, fmt.Errorf("probe failed as asked: %v", v)
		}
	}
	return map[string]any{"value": v}, nil
}

func probeKinds(rec *recorder) *workflows.Kinds {
	k := workflows.NewKinds()
	k.AddStep(workflows.StepKind{
		Name:  "probe",
		Attrs: []workflows.Attr{{Name: "value", Required: true}, {Name: "fail"}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			return &probe{value: b.Template("value"), fail: b.Template("fail"), rec: rec}, nil
		},
	})
	return k
}

func loadSet(t testing.TB, rec *recorder, src string) *workflows.Set {
	t.Helper()
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, probeKinds(rec))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// event is a manual event with a JSON body.
func event(body string) *workflows.Event {
	return &workflows.Event{ID: "ev1", Trigger: "manual", ReceivedAt: time.Now(), ContentType: "application/json", Raw: body}
}

// waitRun polls a run until it leaves queued/running, for up to 10s.
func waitRun(t *testing.T, e *Engine, id string) *Run {
	t.Helper()
	var r *Run
	finished := false
	defer func() { // runs when Eventually gives up too
		if !finished && r != nil {
			t.Logf("run %s is still %s", id, r.Status)
		}
	}()
	testutil.Eventually(t, 10*time.Second, "run "+id+" finished", func() bool {
		var err error
		if r, err = e.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return r.Status == "succeeded" || r.Status == "failed"
	})
	finished = true
	return r
}

// running returns an engine on b that knows the workflows in src, with a pool of
// workers executing them.
func running(t testing.TB, b *redistest.Backend, src string, workers int) (*Engine, *workflows.Set, *recorder) {
	t.Helper()
	rec := &recorder{}
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	set := loadSet(t, rec, src)
	e.Use(set)
	startPool(t, e, workers)
	return e, set, rec
}

func startPool(t testing.TB, e *Engine, workers int) *Pool {
	t.Helper()
	p := e.NewPool(workers)
	p.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stopping pool: %v", err)
		}
	})
	return p
}

const chainSrc = `
workflow "chain" {
  step "probe" "first" {
    value = "{{ event.body.name }}"
  }
  step "probe" "second" {
    value = "hello {{ steps.first.value }} from {{ run.workflow }}"
  }
  step "probe" "third" {
    if    = "steps.second.outcome == 'succeeded' && event.body.name == 'nobody'"
    value = "never"
  }
}
`

func TestRunExecutesChainedSteps(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, chainSrc, 4)
		id, err := e.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "succeeded" || r.Error != "" || r.Workflow != "chain" || r.Version != set.Workflow("chain").Version {
			t.Fatalf("run %+v", r)
		}
		if r.StartedAt == nil || r.FinishedAt == nil || r.DurationMS == nil {
			t.Errorf("timings missing: %+v", r)
		}
		want := []struct{ name, status, value string }{
			{"first", "succeeded", "Ada"},
			{"second", "succeeded", "hello Ada from chain"},
			{"third", "skipped", ""},
		}
		if len(r.Steps) != len(want) {
			t.Fatalf("steps %+v", r.Steps)
		}
		for i, w := range want {
			s := r.Steps[i]
			if s.Name != w.name || string(s.Status) != w.status || s.Kind != "probe" || s.Attempts != 1 {
				t.Errorf("step %d: %+v", i, s)
			}
			if w.value != "" && s.Output.(map[string]any)["value"] != w.value {
				t.Errorf("step %s output %#v", s.Name, s.Output)
			}
		}
		if calls := rec.list(); len(calls) != 2 || calls[0] != id+":first" || calls[1] != id+":second" {
			t.Errorf("calls %v", calls)
		}
	})
}

const failSrc = `
workflow "fails" {
  step "probe" "a" {
    value = "x"
    fail  = true
  }
  step "probe" "b" {
    value = "not reached"
  }
}

workflow "continues" {
  step "probe" "a" {
    value    = "x"
    fail     = true
    on_error = "continue"
  }
  step "probe" "b" {
    value = "after {{ steps.a.outcome }}: {{ steps.a.error }}"
  }
}
`

func TestFailedStep(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, failSrc, 2)

		id, err := e.Start(context.Background(), set.Workflow("fails"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "failed" || r.Error != "step a: probe failed as asked: x" {
			t.Errorf("run %s: %q", r.Status, r.Error)
		}
		if r.Steps[0].Status != "failed" || r.Steps[0].Error != "probe failed as asked: x" || r.Steps[1].Status != "cancelled" {
			t.Errorf("steps %+v", r.Steps)
		}
		if calls := rec.list(); len(calls) != 1 || calls[0] != id+":a" {
			t.Errorf("a failed run went on to call %v", calls)
		}

		id, err = e.Start(context.Background(), set.Workflow("continues"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, e, id)
		if r.Status != "succeeded" || r.Steps[0].Status != "failed" {
			t.Errorf("run %+v", r)
		}
		if v := r.Steps[1].Output.(map[string]any)["value"]; v != "after failed: probe failed as asked: x" {
			t.Errorf("a later step should see the failure, got %q", v)
		}
	})
}

func TestWorkersCapConcurrency(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, rec := running(t, b, chainSrc, 3)
		var ids []string
		for i := range 60 {
			id, err := e.Start(context.Background(), set.Workflow("chain"), event(fmt.Sprintf(`{"name": "n%d"}`, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if r := waitRun(t, e, id); r.Status != "succeeded" {
				t.Fatalf("run %s: %s %s", id, r.Status, r.Error)
			}
		}
		if got := len(rec.list()); got != 120 {
			t.Errorf("%d step calls, want 120 (each step once)", got)
		}
		if peak := rec.peak.Load(); peak > 3 {
			t.Errorf("%d steps ran at once with 3 workers", peak)
		}
	})
}

func TestUnknownVersionFailsTheRun(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		set := loadSet(t, rec, chainSrc)
		starter := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		id, err := starter.Start(context.Background(), set.Workflow("chain"), event(`{"name": "x"}`))
		if err != nil {
			t.Fatal(err)
		}
		// A process that never loaded this version executes the run.
		other := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		startPool(t, other, 1)
		r := waitRun(t, other, id)
		if r.Status != "failed" || r.Error == "" {
			t.Errorf("run %s %q", r.Status, r.Error)
		}
		if len(rec.list()) != 0 {
			t.Error("no step should have run")
		}
	})
}

func TestRunNotFound(t *testing.T) {
	e := New(redistest.Mini(t).Client, Options{Logger: quiet})
	if _, err := e.Run(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v", err)
	}
}

// holding starts a run on a pool of its own whose first step blocks until rec.hold is
// closed, and returns once that step is running. The test stops the pool.
func holding(t *testing.T, b *redistest.Backend) (*Engine, *Pool, *recorder, string) {
	t.Helper()
	e, _, p, rec, id := holdingRun(t, b, chainSrc, "chain", `{"name": "Ada"}`)
	return e, p, rec, id
}

// holdingRun is holding with a run of workflow wf of src, its event's body body; it
// returns the set loaded from src too.
func holdingRun(t *testing.T, b *redistest.Backend, src, wf, body string) (*Engine, *workflows.Set, *Pool, *recorder, string) {
	t.Helper()
	rec := &recorder{hold: make(chan struct{}), entered: make(chan struct{}, 8)}
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	set := loadSet(t, rec, src)
	e.Use(set)
	p := e.NewPool(1)
	p.Start()
	id, err := e.Start(context.Background(), set.Workflow(wf), event(body))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never started")
	}
	return e, set, p, rec, id
}

func TestStopWaitsForStepsInProgress(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, p, rec, id := holding(t, b)
		stopped := make(chan error)
		go func() { stopped <- p.Stop(context.Background()) }()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while a step was running", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(rec.hold)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("a second Stop: %v", err)
		}
		if got := p.Stopped(); got != (StopReport{Ended: 1}) {
			t.Errorf("Stopped: %+v, want the one step finished", got)
		}
		// The step in progress was committed; the rest of the run was queued, not
		// chained, because the pool was stopping.
		r, err := e.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Steps[0].Status != "succeeded" || r.Steps[1].Status != "pending" || r.Status != "running" {
			t.Errorf("run %s, steps %+v", r.Status, r.Steps)
		}
		// Another pool picks the run up.
		startPool(t, e, 1)
		if r := waitRun(t, e, id); r.Status != "succeeded" {
			t.Errorf("run %s", r.Status)
		}
	})
}

// waiter is a step kind that holds its run for the duration in its value.
func waitKinds(rec *recorder) *workflows.Kinds {
	k := probeKinds(rec)
	k.AddStep(workflows.StepKind{
		Name:  "hold",
		Attrs: []workflows.Attr{{Name: "ms", Required: true}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			ms, _ := b.Template("ms").Const()
			d := time.Duration(ms.(int)) * time.Millisecond
			return actionFunc(func(context.Context, *workflows.Call) (any, error) {
				return &workflows.Wait{For: d, Until: time.Now().Add(d)}, nil
			}), nil
		},
	})
	return k
}

type actionFunc func(context.Context, *workflows.Call) (any, error)

func (f actionFunc) Do(ctx context.Context, c *workflows.Call) (any, error) { return f(ctx, c) }

// TestDelayHoldsNoWorker: with one worker, a run waiting in a delay does not stop
// another run from finishing, and its next step runs after the delay.
func TestDelayHoldsNoWorker(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "slow" {
  step "hold" "wait" {
    ms = 1500
  }
  step "probe" "after" {
    value = "{{ steps.wait.seconds }}"
  }
}
workflow "quick" {
  step "probe" "only" {
    value = "x"
  }
}`)}}, waitKinds(rec))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		e.Use(set)
		startPool(t, e, 1)
		slow, err := e.Start(context.Background(), set.Workflow("slow"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		quick, err := e.Start(context.Background(), set.Workflow("quick"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		q := waitRun(t, e, quick)
		s := waitRun(t, e, slow)
		if s.Status != "succeeded" || q.Status != "succeeded" {
			t.Fatalf("runs %s %s", s.Status, q.Status)
		}
		wait, after := s.Steps[0], s.Steps[1]
		if !q.FinishedAt.Before(*after.StartedAt) {
			t.Error("the quick run waited for the delayed one: the delay held the only worker")
		}
		if gap := after.StartedAt.Sub(*wait.FinishedAt); gap < 1400*time.Millisecond {
			t.Errorf("the step after the delay started %v after it, want about 1.5s", gap)
		}
		if v := after.Output.(map[string]any)["value"]; v != 1.5 {
			t.Errorf("steps.wait.seconds = %v", v)
		}
	})
}

// A delay as the last step holds its run: the run ends when the delay does, and a
// caller waiting for the run's end waits for it.
func TestLastDelayHoldsTheRun(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "ends_with_a_delay" {
  step "probe" "first" {
    value = "x"
  }
  step "hold" "wait" {
    ms = 1000
  }
}`)}}, waitKinds(&recorder{}))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
		e.Use(set)
		startPool(t, e, 1)
		ctx := context.Background()
		wf := set.Workflow("ends_with_a_delay")
		id, err := e.Start(ctx, wf, event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		reply, err := e.Await(ctx, wf, id)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != RunSucceeded || RunStatus(reply.Status) != RunSucceeded {
			t.Fatalf("run %+v, reply %+v", r.RunSummary, reply)
		}
		if took := r.FinishedAt.Sub(*r.StartedAt); took < 900*time.Millisecond {
			t.Errorf("the run ended %v after it started, before its delay of 1s", took)
		}
		if out, _ := r.Steps[1].Output.(map[string]any); out == nil || out["until"] == nil {
			t.Errorf("the delay's output %v", r.Steps[1].Output)
		}
	})
}

// TestSecretsNeverRecorded: a secret that comes back in a step's output or error is
// recorded as [redacted], and later steps see the record.
func TestSecretsNeverRecorded(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_CANARY", "canary-7f3a9")
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, `
workflow "leaky" {
  step "probe" "echo" {
    value = "token=${secret("HOOKFLOW_TEST_CANARY")}"
  }
  step "probe" "next" {
    value    = "saw {{ steps.echo.value }}"
    fail     = true
  }
}`, 1)
		id, err := e.Start(context.Background(), set.Workflow("leaky"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		data, _ := json.Marshal(r)
		if strings.Contains(string(data), "canary-7f3a9") {
			t.Fatalf("the secret is in the run's record: %s", data)
		}
		if r.Steps[0].Output.(map[string]any)["value"] != "token=[redacted]" || r.Steps[1].Output.(map[string]any)["value"] != "saw token=[redacted]" {
			t.Errorf("outputs %v / %v", r.Steps[0].Output, r.Steps[1].Output)
		}
		if r.Error != "step next: probe failed as asked: saw token=[redacted]" {
			t.Errorf("run error %q", r.Error)
		}
		// A filter that fails on the secret: its reason is recorded redacted.
		failed, err := e.StartFailed(context.Background(), set.Workflow("leaky"), event(`{}`), "filter: int(canary-7f3a9) failed")
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := e.Run(context.Background(), failed); f.Error != "filter: int([redacted]) failed" {
			t.Errorf("filter failure recorded as %q", f.Error)
		}
		for k, v := range redisContents(t, b) {
			if strings.Contains(v, "canary-7f3a9") {
				t.Errorf("the secret is stored in Redis under %s", k)
			}
		}
	})
}

// redisContents reads every key of b as text, whatever its type.
func redisContents(t *testing.T, b *redistest.Backend) map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	for _, k := range b.Keys(ctx, "*") {
		var v any
		switch b.Client.Type(ctx, k).Val() {
		case "hash":
			v = b.Client.HGetAll(ctx, k).Val()
		case "string":
			v = b.Client.Get(ctx, k).Val()
		case "zset":
			v = b.Client.ZRange(ctx, k, 0, -1).Val()
		case "list":
			v = b.Client.LRange(ctx, k, 0, -1).Val()
		case "set":
			v = b.Client.SMembers(ctx, k).Val()
		case "none":
			continue // gone since KEYS: a wake signal a worker popped
		default:
			t.Fatalf("key %s has an unexpected type", k)
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}
