package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

const historySrc = `
workflow "a" {
  step "probe" "x" {
    value = "{{ event.body.n }}"
    fail  = "{{ event.body.n % 3 == 0 }}"
  }
}
workflow "b" {
  step "probe" "y" {
    value = "b"
  }
}
`

func TestRunHistoryListing(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		e := New(b.Client, Options{Logger: quiet, Shards: 3})
		set := loadSet(t, rec, historySrc)
		e.Use(set)
		startPool(t, e, 4)
		ctx := context.Background()
		var aIDs, all []string
		for n := range 9 {
			id, err := e.Start(ctx, set.Workflow("a"), event(fmt.Sprintf(`{"n": %d}`, n)))
			if err != nil {
				t.Fatal(err)
			}
			aIDs, all = append(aIDs, id), append(all, id)
			if n%3 == 0 {
				id, _ := e.Start(ctx, set.Workflow("b"), event(`{}`))
				all = append(all, id)
			}
		}
		for _, id := range all {
			waitRun(t, e, id)
		}

		page, err := e.Runs(ctx, RunFilter{Workflow: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Runs); fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(aIDs)) || !newestFirst(page.Runs) {
			t.Errorf("runs of a %v, want %v newest first", got, aIDs)
		}
		failed, _ := e.Runs(ctx, RunFilter{Workflow: "a", Status: "failed"})
		if len(failed.Runs) != 3 {
			t.Errorf("%d failed runs of a, want 3 (n = 0, 3, 6)", len(failed.Runs))
		}
		for _, r := range failed.Runs {
			if r.Status != "failed" || r.Workflow != "a" {
				t.Errorf("run %+v in the failed listing of a", r)
			}
		}

		// Paging through every workflow, two at a time, across the shards, gives the
		// whole listing in the same order.
		whole, _ := e.Runs(ctx, RunFilter{})
		if fmt.Sprint(sorted(ids(whole.Runs))) != fmt.Sprint(sorted(all)) || !newestFirst(whole.Runs) {
			t.Errorf("listing %v, want %v newest first", ids(whole.Runs), all)
		}
		var seen []string
		f := RunFilter{Limit: 2}
		for {
			page, err := e.Runs(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ids(page.Runs)...)
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
		if fmt.Sprint(seen) != fmt.Sprint(ids(whole.Runs)) {
			t.Errorf("paged listing %v, want %v", seen, ids(whole.Runs))
		}

		if _, err := e.Runs(ctx, RunFilter{Status: "done"}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("unknown status: %v", err)
		}
		if _, err := e.Runs(ctx, RunFilter{Cursor: "nope"}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// A full page has a next page only when there are more runs to list: a page that
// holds the last runs, exactly as many as asked, has none, so no next page comes back
// empty.
func TestRunHistoryFullLastPageHasNoNext(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		rec := &recorder{}
		e := New(b.Client, Options{Logger: quiet})
		set := loadSet(t, rec, historySrc)
		e.Use(set)
		startPool(t, e, 4)
		ctx := context.Background()
		var all []string
		for n := range 6 { // a: n = 0 and 3 fail
			id, err := e.Start(ctx, set.Workflow("a"), event(fmt.Sprintf(`{"n": %d}`, n)))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
		for range 2 {
			id, err := e.Start(ctx, set.Workflow("b"), event(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
		for _, id := range all {
			waitRun(t, e, id)
		}
		for _, c := range []struct {
			name  string
			f     RunFilter
			pages []int // how many runs each page has
		}{
			{"all runs, a page", RunFilter{Limit: 8}, []int{8}},
			{"all runs, two pages", RunFilter{Limit: 4}, []int{4, 4}},
			{"all runs, then fewer", RunFilter{Limit: 5}, []int{5, 3}},
			{"a workflow's", RunFilter{Workflow: "b", Limit: 2}, []int{2}},
			{"a workflow's, one at a time", RunFilter{Workflow: "b", Limit: 1}, []int{1, 1}},
			{"of a status", RunFilter{Status: "failed", Limit: 2}, []int{2}},
			{"by event text", RunFilter{Text: `"n":3`, Limit: 1}, []int{1}},
		} {
			t.Run(c.name, func(t *testing.T) {
				var got []int
				f := c.f
				for range 10 {
					page, err := e.Runs(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, len(page.Runs))
					if page.Next == "" {
						break
					}
					f.Cursor = page.Next
				}
				if fmt.Sprint(got) != fmt.Sprint(c.pages) {
					t.Errorf("pages of %v runs, want %v", got, c.pages)
				}
			})
		}
	})
}

func ids(runs []RunSummary) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func sorted(s []string) []string {
	return slices.Sorted(slices.Values(s))
}

// newestFirst reports whether runs are ordered by creation time, then id, descending.
func newestFirst(runs []RunSummary) bool {
	return slices.IsSortedFunc(runs, func(a, b RunSummary) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// Runs past the retention leave the history indexes when a pool trims them, and dead
// letters past it leave the dead letters (and so the dead-letter gauge falls).
func TestTrimDropsRunsPastTheRetention(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e := New(b.Client, Options{Logger: quiet, Shards: 2})
		sh := e.q.shardFor("a")
		now := time.Now().UnixMilli()
		old, kept := float64(now-8*24*time.Hour.Milliseconds()), float64(now-time.Hour.Milliseconds())
		for _, key := range []string{sh.runs(), sh.runsOf("a"), sh.dead()} {
			b.Client.ZAdd(ctx, key, redis.Z{Score: old, Member: "old"}, redis.Z{Score: kept, Member: "kept"})
		}
		b.Client.SAdd(ctx, sh.workflows(), "a") // as start.lua does
		if err := e.q.trim(ctx); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{sh.runs(), sh.runsOf("a"), sh.dead()} {
			if got := b.Client.ZRange(ctx, key, 0, -1).Val(); fmt.Sprint(got) != "[kept]" {
				t.Errorf("%s holds %v, want [kept]", key, got)
			}
		}
	})
}

// A listing by event text keeps the runs whose event, credentials redacted, has it.
func TestRunsByEventText(t *testing.T) {
	b := redistest.Mini(t)
	e := New(b.Client, Options{Logger: quiet})
	set := loadSet(t, &recorder{}, historySrc)
	e.Use(set)
	ctx := context.Background()
	alice, _ := e.Start(ctx, set.Workflow("b"), event(`{"customer": "Alice Liddell", "password": "wonderland"}`))
	e.Start(ctx, set.Workflow("b"), event(`{"customer": "Bob"}`))
	// An event that holds a resume URL, as a child run's input may.
	key, err := e.resumeKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := waitRef{workflow: "refund", run: "01JABCDEFGHJKMNPQRSTVWXYZ0", step: "approval"}.token(key)
	payload, sig, _ := strings.Cut(token, ".")
	carol, _ := e.Start(ctx, set.Workflow("b"), event(`{"customer": "Carol", "approve": "https://hooks.example.com/resume/`+token+`"}`))
	for _, tc := range []struct{ text, want string }{
		{"alice", alice},
		{"LIDDELL", alice},
		{"wonderland", ""}, // a credential field is redacted: no oracle for its value
		{"nobody", ""},
		{payload, carol},
		{payload + "." + sig[:1], ""}, // nor for a resume token's signature
	} {
		page, err := e.Runs(ctx, RunFilter{Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ids(page.Runs), ","); got != tc.want {
			t.Errorf("runs with %q: %q, want %q", tc.text, got, tc.want)
		}
	}
}
