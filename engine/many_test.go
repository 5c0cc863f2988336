package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// probeScript does what its first argument says, to a key, so that a batch of its calls
// can be held against the same calls made alone.
const probeScript = `-- KEYS: 1 a key. ARGV: 1 what the call does, 2 a value.
local what, v = ARGV[1], ARGV[2]
if what == 'set' then
  redis.call('SET', KEYS[1], v)
  return v
elseif what == 'refuse' then
  return fail(ERR_STALE, 'refused ' .. v)
elseif what == 'nil' then
  return nil
elseif what == 'lua' then
  redis.call('SET', KEYS[1], v)
  return nil .. v
elseif what == 'command' then
  redis.call('SET', KEYS[1], v)
  return redis.call('LPUSH', KEYS[1], v)
elseif what == 'clock' then
  local _, now_s = now_ms()
  return now_s
elseif what == 'shape' then
  return {v, 7, {'nested', #KEYS, #ARGV}}
elseif what == 'state' then
  return redis.error_reply('OOM pretended ' .. v)
elseif what == 'unauth' then
  return fail(ERR_STALE, 'the lease of unauthenticated:' .. v)
elseif what == 'lower' then
  return redis.error_reply('probe: unknown section ' .. v)
end
return 'unknown ' .. what
`

// probeCall lays out a call of s as the queue does: evalsha, hash, key count, keys,
// arguments.
func probeCall(s *redis.Script, key, what, v string) []any {
	return []any{"evalsha", s.Hash(), 1, key, what, v}
}

// scriptLine is where a Lua error names the line of a script.
var scriptLine = regexp.MustCompile(`user_script:\d+`)

// reply is a call's reply as a test compares it.
func reply(c *redis.Cmd) string {
	if err := c.Err(); err != nil {
		msg, _, _ := strings.Cut(err.Error(), " script:") // Redis names the script and line
		return "error: " + msg
	}
	return fmt.Sprintf("%#v", c.Val())
}

// TestBatchRepliesAsAlone: calls that go together as one call of their script's batch
// form each get the reply they would have had alone, and write what they would have
// written alone, whatever the others in the batch do: an error reply, a Lua error or a
// command's error after a write end their own call only.
func TestBatchRepliesAsAlone(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		lib, _ := scriptSource("lib.lua")
		one := redis.NewScript(uses(lib, probeScript) + "\n" + probeScript)
		many := manyOfSource(lib, probeScript)
		p := newPipeliner(b.Client)
		p.forms = map[*redis.Script]*redis.Script{one: many}
		// go-redis reads some error replies (OOM..., any that says unauthenticated) as the
		// whole reply's error: a batch must not hand them to it inside its reply.
		cases := [][2]string{{"set", "a"}, {"refuse", "b"}, {"nil", ""}, {"lua", "c"}, {"set", "d"},
			{"command", "e"}, {"shape", "f"}, {"clock", ""}, {"clock", ""}, {"state", "h"}, {"unauth", "i"},
			{"lower", "j"}, {"set", "g"}}
		var batch []*pipedCall
		for i, c := range cases {
			alone := evalsha(ctx, b.Client, one, probeCall(one, fmt.Sprintf("{t}:alone:%d", i), c[0], c[1]))
			call := &pipedCall{cmd: redis.NewCmd(ctx, probeCall(one, fmt.Sprintf("{t}:batch:%d", i), c[0], c[1])...),
				script: one, done: make(chan struct{})}
			batch = append(batch, call)
			defer func(i int, c [2]string, alone *redis.Cmd) {
				got, want := reply(call.cmd), reply(alone)
				if c[0] == "clock" {
					if _, err := call.cmd.Int64(); err != nil {
						t.Errorf("clock: %s", got)
					}
					return
				}
				// The line a Lua error names is the batch form's.
				got, want = scriptLine.ReplaceAllString(got, "user_script:N"), scriptLine.ReplaceAllString(want, "user_script:N")
				if got != want {
					t.Errorf("%s in a batch: %s; alone: %s", c[0], got, want)
				}
				kept := b.Client.Get(ctx, fmt.Sprintf("{t}:batch:%d", i)).Val()
				if was := b.Client.Get(ctx, fmt.Sprintf("{t}:alone:%d", i)).Val(); kept != was {
					t.Errorf("%s in a batch left %q; alone %q", c[0], kept, was)
				}
			}(i, c, alone)
		}
		// A call of another script goes in the same pipeline, after the batch form's: it
		// must read its own reply, not what is left of the batch's.
		other := redis.NewScript("return 'other ' .. ARGV[1]")
		if err := other.Load(ctx, b.Client).Err(); err != nil {
			t.Fatal(err)
		}
		after := &pipedCall{cmd: redis.NewCmd(ctx, "evalsha", other.Hash(), 1, "{t}:other", "x"), script: other,
			done: make(chan struct{})}
		batch = append(batch, after)
		if sends := together(ctx, batch, p.forms); len(sends) != 2 || len(sends[0].calls) != len(cases) {
			t.Fatalf("%d calls went as %d commands", len(batch), len(sends))
		}
		if err := many.Load(ctx, b.Client).Err(); err != nil {
			t.Fatal(err)
		}
		calls := &scriptCalls{ran: map[string]int{}}
		b.Client.AddHook(calls)
		p.exec(batch)
		for _, c := range batch {
			<-c.done
		}
		calls.wentTogether(t, many, one)
		if v, err := after.cmd.Text(); v != "other x" || err != nil {
			t.Errorf("the call after the batch in its pipeline read %q, %v", v, err)
		}
		if !errors.Is(scriptError(batch[1].cmd.Err()), errStaleLease) {
			t.Errorf("a refusal in a batch: %v", batch[1].cmd.Err())
		}
		if batch[7].cmd.Val() != batch[8].cmd.Val() {
			t.Errorf("the calls of a batch read the clock twice: %v, %v", batch[7].cmd.Val(), batch[8].cmd.Val())
		}

		// Redis lost its scripts: the batch's calls run one by one, and the batch form is
		// loaded for the next batch.
		if err := b.Client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		setBatch(t, p, one, "flushed")
		calls.forget()
		setBatch(t, p, one, "next")
		calls.wentTogether(t, many, one)
	})
}

// setBatch runs, as one batch of p, three calls of probeScript (one) that set keys
// named after name to name, and checks their replies.
func setBatch(t *testing.T, p *pipeliner, one *redis.Script, name string) {
	t.Helper()
	ctx := context.Background()
	var calls []*pipedCall
	for i := range 3 {
		calls = append(calls, &pipedCall{cmd: redis.NewCmd(ctx, probeCall(one, fmt.Sprintf("{t}:%s:%d", name, i), "set", name)...),
			script: one, done: make(chan struct{})})
	}
	p.exec(calls)
	for i, c := range calls {
		if v, err := c.cmd.Text(); v != name || err != nil {
			t.Errorf("%s: call %d: %q %v", name, i, v, err)
		}
	}
}

// wentTogether checks that the calls seen since ran was last emptied went as one call
// of the batch form many, and none alone (one).
func (s *scriptCalls) wentTogether(t *testing.T, many, one *redis.Script) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ran[many.Hash()] != 1 || s.ran[one.Hash()] != 0 {
		t.Errorf("the batch went as %d calls of its batch form and %d alone, want 1 and 0", s.ran[many.Hash()], s.ran[one.Hash()])
	}
}

// TestTogetherKeepsTheOrderOfScripts: a batch's calls of each script with a batch form
// go as one command, in the place of the first of them; the others go as they are, in
// their order.
func TestTogetherKeepsTheOrderOfScripts(t *testing.T) {
	ctx := context.Background()
	a, b, c := redis.NewScript("return 1"), redis.NewScript("return 2"), redis.NewScript("return 3")
	forms := map[*redis.Script]*redis.Script{a: redis.NewScript("return {1}"), b: redis.NewScript("return {2}")}
	var calls []*pipedCall
	for _, s := range []*redis.Script{c, a, b, a, c, a} {
		calls = append(calls, &pipedCall{cmd: redis.NewCmd(ctx, "evalsha", s.Hash(), 1, "k", "v"), script: s})
	}
	// A call of a with too many arguments to go with others goes alone.
	big := []any{"evalsha", a.Hash(), 1, "k"}
	for range maxManyArgs {
		big = append(big, "v")
	}
	calls = append(calls, &pipedCall{cmd: redis.NewCmd(ctx, big...), script: a})
	sends := together(ctx, calls, forms)
	var got []string
	for _, s := range sends {
		got = append(got, fmt.Sprintf("%v×%d", s.cmd.Args()[1], max(len(s.calls), 1)))
	}
	want := []string{c.Hash() + "×1", forms[a].Hash() + "×3", b.Hash() + "×1", c.Hash() + "×1", a.Hash() + "×1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	// a's three calls: their keys, then 3, each call's counts, then their arguments.
	args := sends[1].cmd.Args()
	if fmt.Sprint(args[2:]) != "[3 k k k 3 1 1 1 1 1 1 v v v]" {
		t.Errorf("the batch call of a: %v", args)
	}
}

// holdCalls makes the calls that calls makes on sh go to Redis as one batch: sh's
// pipeliner sends nothing until n calls wait.
func holdCalls(t *testing.T, sh *shard, n int, calls func()) {
	t.Helper()
	p := newPipeliner(sh.calls.rdb)
	p.start.Do(func() {}) // no flusher until the batch is whole
	sh.calls = p
	done := make(chan struct{})
	go func() {
		defer close(done)
		calls()
	}()
	for deadline := time.Now().Add(10 * time.Second); len(p.calls) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting, want %d", len(p.calls), n)
		}
	}
	go p.flush()
	<-done
}

// TestBatchedStartsAndCommits: starts and commits that go to Redis together, as one
// call of each script's batch form (start, advance, finish, complete), do what each
// does alone: a start refused for a full shard or made twice, and a commit whose lease
// is no longer held, fail alone, and the others go on.
func TestBatchedStartsAndCommits(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		calls := &scriptCalls{ran: map[string]int{}}
		b.Client.AddHook(calls)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: time.Minute, Retention: time.Hour})
		set := loadSet(t, &recorder{}, chainSrc)
		e.Use(set)
		chain := set.Workflow("chain")
		sh := e.q.shardFor("chain")
		if err := e.q.start(ctx, "run0", chain, []byte(`{"body":{}}`), ""); err != nil {
			t.Fatal(err)
		}
		e.q.maxOpen = 7

		// Seven starts of new runs and one of run0 again: the shard takes seven unfinished
		// runs, so one new run is refused. Every other start has its first job leased to
		// it, as a webhook's start does when a worker is free.
		errs := make([]error, 8)
		started := make([]*job, 8)
		holdCalls(t, sh, 8, func() {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					_, started[i], errs[i] = e.q.startOnce(ctx, fmt.Sprintf("run%d", i), chain, []byte(`{"body":{}}`),
						nil, "", nil, i%2 == 1)
				})
			}
			wg.Wait()
		})
		busy := 0
		var jobs []*job
		for i, err := range errs {
			switch {
			case errors.Is(err, ErrBusy):
				busy++
			case err != nil:
				t.Errorf("start %d: %v", i, err)
			case i%2 == 1 && (started[i] == nil || !strings.HasPrefix(started[i].token, "s")):
				t.Errorf("start %d leased %+v, want its first job with a start's token", i, started[i])
			case i%2 == 1:
				jobs = append(jobs, started[i])
			}
		}
		if busy != 1 {
			t.Fatalf("%d starts refused, want 1: %v", busy, errs)
		}
		queued, _, err := e.q.lease(ctx, sh, 10)
		if jobs = append(jobs, queued...); err != nil || len(jobs) != 7 {
			t.Fatalf("%d first jobs leased (%v), want 7", len(jobs), err)
		}

		// Each first step commits and goes on to the next (advance); one commit more
		// carries a token that is no longer its job's.
		stale := *jobs[0]
		stale.token = "0"
		next := make([]*job, len(jobs))
		holdCalls(t, sh, len(jobs)+1, func() {
			var wg sync.WaitGroup
			for i, j := range jobs {
				wg.Go(func() {
					var err error
					next[i], err = e.q.complete(ctx, commit{job: j, runID: j.run["id"], wf: chain, chain: true,
						record: &Record{Status: StatusSucceeded, Output: []byte(`{"value":"one"}`)},
						plan:   &Plan{Status: RunRunning, Start: []unit{{step: "second"}}}})
					if err != nil || next[i] == nil {
						t.Errorf("advance of %s: %v %v", j.id, next[i], err)
					}
				})
			}
			wg.Go(func() {
				_, err := e.q.complete(ctx, commit{job: &stale, runID: stale.run["id"], wf: chain, chain: true,
					record: &Record{Status: StatusSucceeded}, plan: &Plan{Status: RunRunning, Start: []unit{{step: "second"}}}})
				if !errors.Is(err, errStaleLease) {
					t.Errorf("a stale commit in a batch: %v", err)
				}
			})
			wg.Wait()
		})
		if t.Failed() {
			return
		}

		// Half the runs end at their second step (finish); the other half go on to the
		// third, queued (complete).
		holdCalls(t, sh, len(next), func() {
			var wg sync.WaitGroup
			for i, j := range next {
				wg.Go(func() {
					c := commit{job: j, runID: jobs[i].run["id"], wf: chain, record: &Record{Status: StatusSucceeded},
						plan: &Plan{Status: RunSucceeded}}
					if i%2 == 1 {
						c.plan = &Plan{Status: RunRunning, Start: []unit{{step: "third"}}}
					}
					if _, err := e.q.complete(ctx, c); err != nil {
						t.Errorf("commit of %s: %v", j.id, err)
					}
				})
			}
			wg.Wait()
		})
		for i, j := range jobs {
			r, err := e.Run(ctx, j.run["id"])
			if err != nil {
				t.Fatal(err)
			}
			want := RunSucceeded
			if i%2 == 1 {
				want = RunRunning
			}
			if r.Status != want || len(r.Steps) < 2 || r.Steps[0].Status != StatusSucceeded || r.Steps[1].Status != StatusSucceeded {
				t.Errorf("run %s: %s with steps %+v, want %s and two steps succeeded", r.ID, r.Status, r.Steps, want)
			}
		}
		if queued, _, err := e.q.lease(ctx, sh, 10); err != nil || len(queued) != 3 {
			t.Errorf("leased %d third steps (%v), want 3", len(queued), err)
		}

		calls.mu.Lock()
		defer calls.mu.Unlock()
		for _, err := range calls.errors {
			t.Error(err)
		}
		for name, s := range map[string]*redis.Script{"start.lua": startScript, "advance.lua": advanceScript,
			"finish.lua": finishScript, "complete.lua": completeScript} {
			if calls.ran[manyOf[s].Hash()] == 0 {
				t.Errorf("the batch form of %s never ran", name)
			}
		}
	})
}

// TestAFullRedisRefusesABatch: a Redis past its maxmemory (noeviction) refuses every
// start of a new run in a batch, as it refuses one alone, and keeps none of them; in
// the same batch a start of a run that exists gets its answer, and a commit that ends
// a run, which frees memory first, is written. With room again, a batch goes through.
func TestAFullRedisRefusesABatch(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	e := New(b.Client, Options{Shards: 1, Logger: quiet, Lease: time.Minute, Retention: time.Hour})
	set := loadSet(t, &recorder{}, chainSrc)
	e.Use(set)
	chain := set.Workflow("chain")
	sh := e.q.shardFor("chain")
	for _, s := range []*redis.Script{startScript, manyOf[startScript], finishScript} {
		if err := s.Load(ctx, b.Client).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.q.start(ctx, "kept", chain, []byte(`{"body":{}}`), ""); err != nil {
		t.Fatal(err)
	}
	leased, _, err := e.q.lease(ctx, sh, 1)
	if err != nil || len(leased) != 1 {
		t.Fatalf("leased %d jobs: %v", len(leased), err)
	}
	// New runs, the run that exists, and a commit that ends it.
	batch := func(prefix string) (errs []error, again, end error) {
		errs = make([]error, 5)
		holdCalls(t, sh, len(errs)+2, func() {
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					errs[i] = e.q.start(ctx, fmt.Sprintf("%s%d", prefix, i), chain, []byte(`{"body":{}}`), "")
				})
			}
			wg.Go(func() { again = e.q.start(ctx, "kept", chain, []byte(`{"body":{}}`), "") })
			if leased != nil {
				wg.Go(func() {
					_, end = e.q.complete(ctx, commit{job: leased[0], runID: "kept", wf: chain,
						record: &Record{Status: StatusSucceeded}, plan: &Plan{Status: RunSucceeded}})
				})
			} else { // the run has ended: its start again, twice
				wg.Go(func() { end = e.q.start(ctx, "kept", chain, []byte(`{"body":{}}`), "") })
			}
			wg.Wait()
		})
		return errs, again, end
	}
	// A Redis already past its limit when the batch comes.
	if err := b.Client.Set(ctx, "filler", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	info := b.Client.Info(ctx, "memory").Val()
	var mem int64
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			fmt.Sscan(v, &mem)
		}
	}
	if mem < 1<<20 {
		t.Fatalf("used_memory %d in %q", mem, info)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", fmt.Sprint(mem - 256<<10)}} {
		if err := b.Client.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	errs, again, end := batch("full")
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "OOM") {
			t.Errorf("start %d in a full Redis: %v", i, err)
		}
		if n := b.Client.Exists(ctx, sh.run(fmt.Sprintf("full%d", i))).Val(); n != 0 {
			t.Errorf("start %d was refused, and its run kept", i)
		}
	}
	if again != nil || end != nil {
		t.Errorf("in a full Redis, a start of a run that exists: %v; the commit that ends it: %v", again, end)
	}
	if r, err := e.Run(ctx, "kept"); err != nil || r.Status != RunSucceeded {
		t.Errorf("the run the commit ended: %+v %v", r, err)
	}
	// Nor do the refused starts count as open runs, or show in the history.
	if n, err := b.Client.Get(ctx, sh.open()).Int64(); err != nil || n != 0 {
		t.Errorf("open count %d (%v) after the refused starts, want 0", n, err)
	}
	if got := b.Client.ZRange(ctx, sh.runs(), 0, -1).Val(); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("the history holds %v, want only the run kept", got)
	}

	if err := b.Client.Del(ctx, "filler").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	leased = nil
	errs, again, end = batch("room")
	for i, err := range append(errs, again, end) {
		if err != nil {
			t.Errorf("start %d with room again: %v", i, err)
		}
	}
}

// TestBatchedParksAndWakes: the parks of units that wait for their child runs, and the
// wake-ups of those units as their children end, go to Redis with the commits of
// their shard, as one call of retry.lua's and wake.lua's batch forms, and do what
// each does alone: whichever of a unit's park and wake-up comes first, it is due at
// once; a park whose lease is no longer held fails alone.
func TestBatchedParksAndWakes(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		calls := &scriptCalls{ran: map[string]int{}}
		b.Client.AddHook(calls)
		e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: time.Minute, Retention: time.Hour})
		set := loadSet(t, &recorder{}, chainSrc)
		e.Use(set)
		chain := set.Workflow("chain")
		sh := e.q.shardFor("chain")
		for i := range 4 {
			if err := e.q.start(ctx, fmt.Sprintf("run%d", i), chain, []byte(`{"body":{}}`), ""); err != nil {
				t.Fatal(err)
			}
		}
		jobs, _, err := e.q.lease(ctx, sh, 10)
		if err != nil || len(jobs) != 4 {
			t.Fatalf("leased %d jobs (%v), want 4", len(jobs), err)
		}

		stale := *jobs[0]
		stale.token = "0"
		park := func(j *job) error {
			rec := newRecord(StatusWaiting, j.attempt, map[string]any{"run_id": j.run["id"] + ":first"}, nil)
			return e.q.retry(ctx, j, j.run["id"], "chain", rec, 0, time.Hour)
		}
		holdCalls(t, sh, 2*len(jobs)+1, func() {
			var wg sync.WaitGroup
			for _, j := range jobs {
				wg.Go(func() {
					if err := park(j); err != nil {
						t.Errorf("park of %s: %v", j.id, err)
					}
				})
				wg.Go(func() { e.wakeParent(map[string]any{"parent": map[string]any{"job": j.id, "workflow": "chain"}}) })
			}
			wg.Go(func() {
				if err := park(&stale); !errors.Is(err, errStaleLease) {
					t.Errorf("a stale park in a batch: %v", err)
				}
			})
			wg.Wait()
		})
		if t.Failed() {
			return
		}

		// Parked for an hour, and woken: every one is due now.
		due, _, err := e.q.lease(ctx, sh, 10)
		if err != nil || len(due) != len(jobs) {
			t.Fatalf("leased %d woken jobs (%v), want %d", len(due), err, len(jobs))
		}
		calls.mu.Lock()
		defer calls.mu.Unlock()
		for _, err := range calls.errors {
			t.Error(err)
		}
		for name, s := range map[string]*redis.Script{"retry.lua": retryScript, "wake.lua": wakeScript} {
			if calls.ran[manyOf[s].Hash()] == 0 {
				t.Errorf("the batch form of %s never ran", name)
			}
		}
	})
}
