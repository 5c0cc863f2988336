package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A process that never loaded a workflow version runs it from the source the starting
// process stored in Redis: runs keep their version whichever worker meets them.
func TestAnyWorkerRunsAnyVersion(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		starter := New(b.Client, Options{Logger: quiet})
		v1 := loadSet(t, rec, chainSrc)
		id, err := starter.Start(context.Background(), v1.Workflow("chain"), event(`{"name": "Ada"}`))
		if err != nil {
			t.Fatal(err)
		}

		// The worker has the files of another version only; it has never seen v1.
		edited := strings.Replace(chainSrc, `"hello `, `"bonjour `, 1)
		worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(loadSet(t, rec, edited))
		startPool(t, worker, 2)
		r := waitRun(t, worker, id)
		if r.Status != "succeeded" || r.Version != v1.Workflow("chain").Version {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := r.Steps[1].Output.(map[string]any)["value"]; got != "hello Ada from chain" {
			t.Errorf("second step gave %q: the run did not keep its version", got)
		}
		if len(r.Steps) != 3 || r.Steps[2].Status != "skipped" {
			t.Errorf("steps %+v", r.Steps)
		}
	})
}

// Without the source in Redis, the run fails with the reason and is dead-lettered,
// to be replayed where the version can be loaded.
func TestUnknownVersionIsDeadLettered(t *testing.T) {
	b := redistest.Mini(t)
	rec := &recorder{}
	starter := New(b.Client, Options{Logger: quiet})
	set := loadSet(t, rec, chainSrc)
	id, err := starter.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range versionLists(b) {
		b.Client.Del(context.Background(), k)
	}
	worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	pool := startPool(t, worker, 1)
	r := waitRun(t, worker, id)
	if r.Status != "failed" || !strings.Contains(r.Error, "is not in Redis") || r.DeadLetter == "" {
		t.Fatalf("run %+v", r.RunSummary)
	}
	if err := pool.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	starter.Use(set)
	startPool(t, starter, 1)
	if _, err := starter.Replay(context.Background(), id, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, starter, id); r.Status != "succeeded" {
		t.Errorf("replayed run %s: %s", r.Status, r.Error)
	}
}

func TestSourcesAreStoredOncePerVersion(t *testing.T) {
	b := redistest.Mini(t)
	e := New(b.Client, Options{Logger: quiet})
	set := loadSet(t, &recorder{}, chainSrc)
	for range 3 {
		if _, err := e.Start(context.Background(), set.Workflow("chain"), event(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	keys := append(versionLists(b), sourceFiles(b)...)
	if len(keys) != 4 {
		t.Fatalf("source keys %v, want one version list and one file, in the shard and outside for older builds", keys)
	}
	for _, k := range keys {
		if ttl := b.Client.TTL(context.Background(), k).Val(); ttl <= sourceTTL {
			t.Errorf("%s expires in %s, want past the longest delay plus the retention", k, ttl)
		}
	}
}

// versionLists returns the keys that hold a version's list of files, in the shards and
// outside them (for older builds).
func versionLists(b *redistest.Backend) []string {
	return append(b.Keys(context.Background(), "{hf:*}:ver:*"), b.Keys(context.Background(), "hf:ver:*")...)
}

// sourceFiles returns the keys that hold a version's files, in the shards and outside.
func sourceFiles(b *redistest.Backend) []string {
	return append(b.Keys(context.Background(), "{hf:*}:src:*"), b.Keys(context.Background(), "hf:src:*")...)
}

// A version that does not load in a worker's environment fails its run with where and
// what, never the details: they may quote that environment's secret values.
func TestVersionThatDoesNotLoadHereKeepsSecrets(t *testing.T) {
	b := redistest.Mini(t)
	src := `
workflow "hook" {
  step "probe" "a" {
    value = "{{ 1 }}"
  }
  step "probe" "b" {
    value = secret("HOOK_URL")
  }
}
`
	t.Setenv("HOOK_URL", "https://hooks.example.com/ok")
	rec := &recorder{}
	starter := New(b.Client, Options{Logger: quiet})
	id, err := starter.Start(context.Background(), loadSet(t, rec, src).Workflow("hook"), event(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_URL", "x") // too short for a secret, here: the file does not load
	worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	startPool(t, worker, 1)
	r := waitRun(t, worker, id)
	if r.Status != "failed" || !strings.Contains(r.Error, "t.hcl:7:13") || r.DeadLetter == "" {
		t.Fatalf("run %+v", r.RunSummary)
	}
	for _, k := range b.Client.Keys(context.Background(), "*").Val() {
		if b.Client.Type(context.Background(), k).Val() != "hash" {
			continue
		}
		for f, v := range b.Client.HGetAll(context.Background(), k).Val() {
			if strings.Contains(v, `"x"`) {
				t.Errorf("%s %s holds the value read here: %s", k, f, v)
			}
		}
	}
}

// A version an older build accepted goes on running in a build that refuses its file
// for a likely mistake: vars.region, which no vars block defines, reads nil, as it
// did there, so ?? gives the fallback. The run does not fail at its first step here.
func TestStoredVersionRunsPastANewerCheck(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		const legacy = `
vars { sink = "https://sink.example.com" }
workflow "legacy" {
  step "probe" "send" {
    value = "{{ vars.sink }} {{ vars.region ?? 'eu' }}"
  }
}
`
		src := []workflows.Source{{Name: "t.hcl", Data: []byte(legacy)}}
		if _, diags := workflows.Load(src, probeKinds(rec)); !diags.HasErrors() {
			t.Fatal("this build loads the file: nothing to test")
		}
		// The older build started the run and stored the file as written.
		fixed := strings.Replace(legacy, " {{ vars.region ?? 'eu' }}", "", 1)
		wf := loadSet(t, rec, fixed).Workflow("legacy")
		id, err := New(b.Client, Options{Logger: quiet}).Start(ctx, wf, event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		older := &versions{rdb: b.Client, ttl: sourceTTL, log: quiet}
		if err := older.store(ctx, &version{wf: &workflows.Workflow{Name: wf.Name, Version: wf.Version, Sources: src}}); err != nil {
			t.Fatal(err)
		}

		// This build serves the file with region removed, and edited since.
		worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(loadSet(t, rec, strings.Replace(fixed, "{{ vars.sink }}", "{{ vars.sink }}/v2", 1)))
		startPool(t, worker, 1)
		r := waitRun(t, worker, id)
		if r.Status != "succeeded" || r.Version != wf.Version {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := r.Steps[0].Output.(map[string]any)["value"]; got != "https://sink.example.com eu" {
			t.Errorf("send gave %q, want the stored version's value with the fallback", got)
		}
	})
}

// A run on a version this build cannot run (a step of a kind it lacks) fails clearly,
// naming where, and is dead-lettered; a replay on the current version recovers it.
func TestStoredVersionThatCannotRunIsReplayedOnTheCurrentOne(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		const src = `
workflow "legacy" {
  step "probe" "send" {
    value = "sent"
  }
}
`
		wf := loadSet(t, rec, src).Workflow("legacy")
		id, err := New(b.Client, Options{Logger: quiet}).Start(ctx, wf, event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// Another build stored it with a step of a kind this one does not have.
		other := []workflows.Source{{Name: "t.hcl", Data: []byte(strings.Replace(src, `"probe"`, `"queue_send"`, 1))}}
		if err := (&versions{rdb: b.Client, ttl: sourceTTL, log: quiet}).store(ctx,
			&version{wf: &workflows.Workflow{Name: wf.Name, Version: wf.Version, Sources: other}}); err != nil {
			t.Fatal(err)
		}

		worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
		worker.Use(loadSet(t, rec, strings.Replace(src, `"sent"`, `"sent again"`, 1)))
		startPool(t, worker, 1)
		r := waitRun(t, worker, id)
		if r.Status != "failed" || r.DeadLetter == "" ||
			!strings.Contains(r.Error, "does not load in this process: t.hcl:3:8: Unknown step kind") {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if _, err := worker.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		r = waitRun(t, worker, id)
		if r.Status != "succeeded" || r.Steps[0].Output.(map[string]any)["value"] != "sent again" {
			t.Errorf("replayed run %s: %s, steps %+v", r.Status, r.Error, r.Steps)
		}
	})
}

// A run on a version stored in Redis calls a workflow written in another file: the
// version's files are its own and those with vars, and the child starts on the version
// in use, so a worker that never loaded the parent's version runs it all the same.
func TestStoredVersionCallsAWorkflowOfAnotherFile(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		k := probeKinds(rec)
		actions.Register(k, actions.Options{Logger: quiet})
		const order = `
workflow "order" {
  step "workflow" "invoice" {
    workflow = "create_invoice"
    input    = { order = "{{ event.body.id }}" }
  }
  step "probe" "after" {
    value = "{{ steps.invoice.result.number }}"
  }
}
`
		const invoice = `
workflow "create_invoice" {
  step "set" "number" {
    number = "INV-{{ event.body.order }}"
  }
}
`
		load := func(order string) *workflows.Set {
			set, diags := workflows.Load([]workflows.Source{
				{Name: "order.hcl", Data: []byte(order)}, {Name: "invoice.hcl", Data: []byte(invoice)}}, k)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			return set
		}
		id, err := New(b.Client, Options{Logger: quiet}).Start(ctx, load(order).Workflow("order"), event(`{"id": "7"}`))
		if err != nil {
			t.Fatal(err)
		}
		worker := New(b.Client, Options{Logger: quiet, Kinds: k})
		worker.Use(load(strings.Replace(order, `"{{ steps.invoice.result.number }}"`, `"v2 {{ steps.invoice.result.number }}"`, 1)))
		startPool(t, worker, 1)
		r := waitRun(t, worker, id)
		if r.Status != "succeeded" {
			t.Fatalf("run %+v", r.RunSummary)
		}
		if got := r.Steps[1].Output.(map[string]any)["value"]; got != "INV-7" {
			t.Errorf("after gave %q, want the child's number through the stored version", got)
		}
	})
}

// A Redis error while loading a version is not the version's fault: it is worth
// another try, unlike a version whose source is gone.
func TestVersionLoadErrorsAreClassified(t *testing.T) {
	b := redistest.Mini(t)
	e := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(&recorder{})})
	_, err := e.versions.get(context.Background(), "gone", "0123")
	if retry, _ := workflows.Retryable(err); err == nil || retry || !errors.Is(err, errNoSource) {
		t.Errorf("no source: %v; want a permanent error", err)
	}
	b.Stop()
	_, err = e.versions.get(context.Background(), "any", "0123")
	if retry, _ := workflows.Retryable(err); err == nil || !retry {
		t.Errorf("Redis down: %v; want an error worth another try", err)
	}
}

// A run whose version cannot be read from Redis for a reason that may pass is tried
// again later, not failed.
func TestVersionReadErrorRetriesTheStep(t *testing.T) {
	b := redistest.Mini(t)
	ctx := context.Background()
	rec := &recorder{}
	starter := New(b.Client, Options{Logger: quiet})
	id, err := starter.Start(ctx, loadSet(t, rec, chainSrc).Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range versionLists(b) {
		b.Client.Del(ctx, k)
		b.Client.HSet(ctx, k, "not", "a string") // every GET now fails with WRONGTYPE
	}
	worker := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	startPool(t, worker, 1)
	testutil.Eventually(t, 10*time.Second, "the first step retrying on WRONGTYPE", func() bool {
		r, err := worker.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == "failed" {
			t.Fatalf("run failed: %s", r.Error)
		}
		return len(r.Steps) > 0 && r.Steps[0].Status == "retrying" && strings.Contains(r.Steps[0].Error, "WRONGTYPE")
	})
}

// A process reloaded all day keeps the versions in use and the keepOld used last, not
// every version it ever ran; a run on a version it dropped goes on with that version,
// loaded from Redis again, and a reload back to a dropped version makes it current.
func TestOldVersionsAreDropped(t *testing.T) {
	b := redistest.Mini(t)
	ctx := context.Background()
	rec := &recorder{}
	e := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	edit := func(i int) *workflows.Set {
		return loadSet(t, rec, strings.Replace(chainSrc, `"hello `, fmt.Sprintf(`"hello %d `, i), 1))
	}
	first := edit(0)
	e.Use(first)
	id, err := e.Start(ctx, first.Workflow("chain"), event(`{"name": "Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3*keepOld; i++ {
		e.Use(edit(i))
		if n := len(e.versions.byKey); n > 1+keepOld {
			t.Fatalf("after %d reloads %d versions kept, want at most %d", i, n, 1+keepOld)
		}
	}
	if e.versions.loaded("chain", first.Workflow("chain").Version, false) != nil {
		t.Fatal("the first version is still kept after more than keepOld reloads")
	}
	// A view of the run does not keep its version, which it loads.
	if _, err := e.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	if e.versions.loaded("chain", first.Workflow("chain").Version, false) != nil {
		t.Error("a view of a run kept its version")
	}

	startPool(t, e, 2)
	r := waitRun(t, e, id)
	if r.Status != "succeeded" || r.Version != first.Workflow("chain").Version {
		t.Fatalf("run %+v", r.RunSummary)
	}
	if got := r.Steps[1].Output.(map[string]any)["value"]; got != "hello 0 Ada from chain" {
		t.Errorf("second step gave %q: the run did not keep its version", got)
	}

	// Back to the first version, dropped and loaded again since: the set's copy is the
	// one in use, and the one a run of that version gets.
	back := edit(0)
	e.Use(back)
	if got := e.versions.currentOf("chain"); got == nil || got.wf != back.Workflow("chain") {
		t.Fatalf("current %+v after going back, want the set's own workflow", got)
	}
	if e.versions.redactor != back.Workflow("chain").Secrets {
		t.Error("the secrets hidden are not the set's")
	}
	wf, err := e.versions.get(ctx, "chain", back.Workflow("chain").Version)
	if err != nil || wf != back.Workflow("chain") {
		t.Errorf("get after going back: %p (%v), want the version in use %p", wf, err, back.Workflow("chain"))
	}
}

// The versions in use are all kept, however many workflows the set has.
func TestVersionsInUseAreKept(t *testing.T) {
	b := redistest.Mini(t)
	rec := &recorder{}
	e := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
	var src strings.Builder
	for i := range 2 * keepOld {
		fmt.Fprintf(&src, "workflow \"w%d\" {\n  step \"probe\" \"a\" {\n    value = \"%d\"\n  }\n}\n", i, i)
	}
	set := loadSet(t, rec, src.String())
	e.Use(set)
	for _, wf := range set.Workflows() {
		if e.versions.loaded(wf.Name, wf.Version, false) != wf {
			t.Errorf("workflow %s of the set in use is not kept", wf.Name)
		}
	}
}

// Besides the versions in use, a process keeps the 32 other versions it ran last, or
// twice as many as the workflows in use when that is more (docs/operations.md).
func TestOldVersionsKept(t *testing.T) {
	if keepOld != 32 {
		t.Errorf("keepOld is %d, docs/operations.md says 32", keepOld)
	}
	for _, c := range []struct {
		name      string
		workflows int
		old       int // other versions kept
	}{
		{"one workflow", 1, 32},
		{"16 workflows", 16, 32},
		{"20 workflows", 20, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := redistest.Mini(t)
			rec := &recorder{}
			e := New(b.Client, Options{Logger: quiet, Kinds: probeKinds(rec)})
			edit := func(n int) *workflows.Set {
				var src strings.Builder
				for i := range c.workflows {
					fmt.Fprintf(&src, "workflow \"w%d\" {\n  step \"probe\" \"a\" {\n    value = \"%d.%d\"\n  }\n}\n", i, i, n)
				}
				return loadSet(t, rec, src.String())
			}
			// Enough edits of every workflow to have more old versions than are kept.
			edits := c.old/c.workflows + 3
			for n := range edits {
				e.Use(edit(n))
			}
			if got, want := len(e.versions.byKey), c.workflows+c.old; got != want {
				t.Errorf("%d versions kept after %d edits of %d workflows, want the %d in use and %d others",
					got, edits, c.workflows, c.workflows, c.old)
			}
		})
	}
}
