package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// httpSet loads workflows of real http steps, allowed to call loopback: the files as
// an edit leaves them, for an engine to Use.
func httpSet(t *testing.T, src string) *workflows.Set {
	t.Helper()
	k := workflows.NewKinds()
	client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	actions.Register(k, actions.Options{Client: client, Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set
}

// syncSrc has a bug: update calls /custmers, which the API answers 404.
const syncSrc = `
workflow "sync" {
  step "http" "lookup" {
    url = "URL/customers/{{ event.body.id }}"
  }
  step "http" "update" {
    method = "PATCH"
    url    = "URL/custmers/{{ event.body.id }}"
    json   = { seen = "{{ steps.lookup.body.path }}" }
  }
}
`

// syncFixedSrc fixes update's path and adds a step after it.
const syncFixedSrc = `
workflow "sync" {
  step "http" "lookup" {
    url = "URL/customers/{{ event.body.id }}"
  }
  step "http" "update" {
    method = "PATCH"
    url    = "URL/customers/{{ event.body.id }}"
    json   = { seen = "{{ steps.lookup.body.path }}" }
  }
  step "http" "audit" {
    url  = "URL/audit"
    json = { id = "{{ event.body.id }}" }
  }
}
`

// A run that failed on a bug of its workflow fails again when replayed with its own
// version; replayed with the version in use, the fixed one, it succeeds from the step
// that failed, and its history names the version each step ran with.
func TestReplayOnTheCurrentVersion(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		tg := newTarget(t, 0)
		tg.failPath("/custmers/c1", http.StatusNotFound)
		src := strings.ReplaceAll(syncSrc, "URL", tg.srv.URL)
		e, v1 := httpEngine(t, b, src)
		ver1 := v1.Workflow("sync").Version
		id, err := e.Start(ctx, v1.Workflow("sync"), event(`{"id": "c1"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(r.Error, "404") || r.CurrentVersion != "" {
			t.Fatalf("run %+v, current version %q", r.RunSummary, r.CurrentVersion)
		}

		// The file is fixed and reloaded.
		v2 := httpSet(t, strings.ReplaceAll(syncFixedSrc, "URL", tg.srv.URL))
		ver2 := v2.Workflow("sync").Version
		e.Use(v2)
		if r, _ := e.Run(ctx, id); r.CurrentVersion != ver2 || r.Version != ver1 || r.CurrentLacks != nil {
			t.Errorf("failed run: version %s, current %q lacking %v; want %s and %s lacking nothing", r.Version, r.CurrentVersion, r.CurrentLacks, ver1, ver2)
		}

		// Replayed with its own version, it fails again, and says a current one exists.
		again, err := e.Replay(ctx, id, ReplayOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Version != ver1 || again.CurrentVersion != ver2 || fmt.Sprint(again.From) != "[update]" {
			t.Errorf("pinned replay %+v", again)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed || r.Version != ver1 {
			t.Fatalf("pinned replay: %+v", r.RunSummary)
		}

		again, err = e.Replay(ctx, id, ReplayOptions{Current: true})
		if err != nil {
			t.Fatal(err)
		}
		if again.Version != ver2 || again.CurrentVersion != "" || fmt.Sprint(again.From) != "[update]" {
			t.Errorf("current replay %+v", again)
		}
		r = waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Version != ver2 || r.StartedVersion != ver1 || r.Replays != 2 || r.CurrentVersion != "" {
			t.Fatalf("current replay: %+v, current %q", r.RunSummary, r.CurrentVersion)
		}
		var got []string
		for _, s := range r.Steps {
			v := map[string]string{ver1: "v1", ver2: "v2"}[s.Version]
			got = append(got, s.Name+" "+string(s.Status)+" "+v)
		}
		if want := "[lookup succeeded v1 update succeeded v2 audit succeeded v2]"; fmt.Sprint(got) != want {
			t.Errorf("steps %v, want %s", got, want)
		}
		want := map[string]int{"/customers/c1": 2, "/custmers/c1": 2, "/audit": 1}
		if got := tg.paths(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("calls %v, want %v: lookup once, the bug twice, then the fix", got, want)
		}
	})
}

// A replay on the version in use is refused when that version no longer has the step
// that failed the run; the run stays as it was.
func TestReplayOnTheCurrentVersionNeedsTheFailedStep(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		tg := newTarget(t, 0)
		tg.failPath("/custmers/c1", http.StatusNotFound)
		e, v1 := httpEngine(t, b, strings.ReplaceAll(syncSrc, "URL", tg.srv.URL))
		id, err := e.Start(ctx, v1.Workflow("sync"), event(`{"id": "c1"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %+v", r.RunSummary)
		}
		e.Use(httpSet(t, strings.ReplaceAll(`
workflow "sync" {
  step "http" "lookup" {
    url = "URL/customers/{{ event.body.id }}"
  }
  step "http" "audit" {
    url = "URL/audit"
  }
}
`, "URL", tg.srv.URL)))
		_, err = e.Replay(ctx, id, ReplayOptions{Current: true})
		if !errors.Is(err, ErrCannotReplay) || !strings.Contains(err.Error(), "step update") {
			t.Fatalf("replay without the failed step: %v", err)
		}
		r, err := e.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != RunFailed || r.Version != v1.Workflow("sync").Version || r.DeadLetter == "" || r.Replays != 0 {
			t.Errorf("the refused replay changed the run: %+v", r.RunSummary)
		}
		if fmt.Sprint(r.CurrentLacks) != "[update]" {
			t.Errorf("the run says the current version lacks %v, want [update]", r.CurrentLacks)
		}
	})
}

// A for_each step replayed on the version in use runs its failed items only, with the
// current step's definition; the items that succeeded keep their records.
func TestReplayOnTheCurrentVersionRunsTheFailedItems(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		tg := newTarget(t, 0)
		tg.failPath("/reserve/3", http.StatusNotFound)
		e, v1 := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
		id, err := e.Start(ctx, v1.Workflow("reserve"), event(items(5)))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %+v", r.RunSummary)
		}
		fixed := strings.Replace(forEachWorkflow(tg.srv.URL, 10, "fail"), "/reserve/{{", "/stock/{{", 1)
		v2 := httpSet(t, fixed)
		e.Use(v2)
		if _, err := e.Replay(ctx, id, ReplayOptions{Current: true}); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		want := map[string]int{"/reserve/0": 1, "/reserve/1": 1, "/reserve/2": 1, "/reserve/3": 1, "/reserve/4": 1,
			"/stock/3": 1, "/after": 1}
		if got := tg.paths(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		ver1, ver2 := v1.Workflow("reserve").Version, v2.Workflow("reserve").Version
		for i, it := range r.Steps[0].Items {
			if want := map[bool]string{true: ver2, false: ver1}[i == 3]; it.Version != want || it.Status != StatusSucceeded {
				t.Errorf("item %d %s with version %s, want succeeded with %s", i, it.Status, it.Version, want)
			}
		}
		if s := r.Steps[0]; s.Version != ver2 {
			t.Errorf("the step settled with version %s, want %s", s.Version, ver2)
		}
	})
}

// A parallel block replayed on the version in use runs its failed step only, as the
// current version has it; the step after the block follows the current version too.
func TestReplayOnTheCurrentVersionRunsTheFailedStepOfABlock(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		tg := newTarget(t, 0)
		tg.failPath("/crm", http.StatusNotFound)
		e, v1 := httpEngine(t, b, strings.ReplaceAll(parallelSrc, "URL", tg.srv.URL))
		id, err := e.Start(ctx, v1.Workflow("order"), event(`{"lines": [1, 2]}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %+v", r.RunSummary)
		}
		fixed := strings.NewReplacer(`"URL/crm"`, `"URL/crm/v2"`, `"URL/after"`, `"URL/after/v2"`).Replace(parallelSrc)
		e.Use(httpSet(t, strings.ReplaceAll(fixed, "URL", tg.srv.URL)))
		again, err := e.Replay(ctx, id, ReplayOptions{Current: true})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(again.From) != "[notify/crm]" {
			t.Errorf("replay from %v, want notify/crm only", again.From)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("replayed run %+v", r.RunSummary)
		}
		want := map[string]int{"/reserve": 1, "/slack": 1, "/crm": 1, "/crm/v2": 1, "/line/0": 1, "/line/1": 1, "/after/v2": 1}
		if got := tg.paths(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})
}

// A replay names the items it queues again as runs show them: an item of a map by its
// key, reserve[z], not by its place among the sorted keys.
func TestReplayNamesAMapItemByItsKey(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		tg := newTarget(t, 0)
		tg.failPath("/reserve/z", http.StatusNotFound)
		e, set := httpEngine(t, b, forEachWorkflow(tg.srv.URL, 10, "fail"))
		id, err := e.Start(ctx, set.Workflow("reserve"), event(`{"items": {"a": {"sku": "s0"}, "z": {"sku": "s1"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || r.Steps[0].Items[1].Path != "reserve[z]" {
			t.Fatalf("run %+v, want failed at reserve[z]", r.RunSummary)
		}
		again, err := e.Replay(ctx, id, ReplayOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(again.From) != "[reserve[z]]" {
			t.Errorf("replay from %v, want reserve[z]", again.From)
		}
		waitRun(t, e, id)
	})
}
