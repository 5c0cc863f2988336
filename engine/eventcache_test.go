package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// storedEvent is an event as a run stores it, with body as its raw JSON.
func storedEvent(t testing.TB, id, body string) string {
	t.Helper()
	data, err := json.Marshal(&workflows.Event{ID: id, Trigger: "manual", ContentType: "application/json", Raw: body})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestEventCache: a run's event is decoded once while it is stamped the same; an event
// stamped otherwise (a run started again under the id of one dropped, or whose shown
// event took its place), a text that differs, a failed read and a read that found
// another event are not taken for it; past its bounds the least recently used go.
func TestEventCache(t *testing.T) {
	ctx := context.Background()
	a, b := storedEvent(t, "a", `{"n": 1}`), storedEvent(t, "b", `{"n": 22}`)
	st := eventStamp{created: "1", size: len(a)}
	from := func(text string) eventRead { return func() (string, bool, error) { return text, true, nil } }
	fails := func() (string, bool, error) { return "", false, errors.New("redis is down") }
	bodyOf := func(c *cachedEvent) any { return c.ev.Value()["body"].(map[string]any)["n"] }

	t.Run("reused while stamped the same", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		first, err := c.get(ctx, "r", st, "", from(a))
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.get(ctx, "r", st, "", fails) // not read again
		if err != nil || again != first || c.loads != 1 {
			t.Fatalf("got %p, %v after %d loads; want the first, %p, after one", again, err, c.loads, first)
		}
		withText, err := c.get(ctx, "r", st, a, fails)
		if err != nil || withText != first {
			t.Errorf("the same text was decoded again: %v", err)
		}
		if !strings.Contains(fmt.Sprint(first.ev.Value()["raw"]), `"n": 1`) || bodyOf(first) != 1 {
			t.Errorf("event %v", first.ev.Value())
		}
	})
	for name, other := range map[string]eventStamp{
		"a run started again under its id": {created: "2", size: len(a)},
		"its shown event took its place":   {created: "1", size: len(a), shown: true},
		"another length":                   {created: "1", size: len(a) + 1},
	} {
		t.Run(name, func(t *testing.T) {
			c := newEventCache(8, 1<<20)
			if _, err := c.get(ctx, "r", st, "", from(a)); err != nil {
				t.Fatal(err)
			}
			text := b
			if other.size != len(a) {
				text = storedEvent(t, "b", `{"n": 2}`+strings.Repeat(" ", other.size-len(a)-len(`{"n": 2}`)+len(`{"n": 1}`)))
			}
			other.size = len(text)
			got, err := c.get(ctx, "r", other, "", from(text))
			if err != nil {
				t.Fatal(err)
			}
			if c.loads != 2 || bodyOf(got) == 1 {
				t.Errorf("the event stamped before was taken: %v after %d loads", got.ev.Value()["body"], c.loads)
			}
		})
	}
	t.Run("a text that differs", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		if _, err := c.get(ctx, "r", st, "", from(a)); err != nil {
			t.Fatal(err)
		}
		same := storedEvent(t, "a", `{"n": 3}`) // the same length
		got, err := c.get(ctx, "r", eventStamp{created: "1", size: len(same)}, same, fails)
		if err != nil || bodyOf(got) != 3 {
			t.Errorf("got %v, %v; want the text given", got, err)
		}
	})
	t.Run("a failed read is not kept", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		if _, err := c.get(ctx, "r", st, "", fails); err == nil {
			t.Fatal("no error")
		}
		if got, err := c.get(ctx, "r", st, "", from(a)); err != nil || bodyOf(got) != 1 {
			t.Errorf("got %v, %v", got, err)
		}
	})
	t.Run("an event that changed since the lease is read, not kept", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		got, err := c.get(ctx, "r", st, "", from(b))
		if err != nil || bodyOf(got) != 22 {
			t.Fatalf("got %v, %v; want the event as stored now", got, err)
		}
		if got, err := c.get(ctx, "r", st, "", from(a)); err != nil || bodyOf(got) != 1 || c.loads != 2 {
			t.Errorf("got %v, %v after %d loads: the event that changed was kept", got, err, c.loads)
		}
	})
	t.Run("bounds", func(t *testing.T) {
		c := newEventCache(2, 3*len(a))
		for _, run := range []string{"r1", "r2", "r1", "r3"} { // r2 is the least recently used
			if _, err := c.get(ctx, run, st, "", from(a)); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok := c.byRun["r2"]; ok || len(c.byRun) != 2 || c.bytes != 2*len(a) {
			t.Errorf("kept %v (%d bytes); want r1 and r3", c.byRun, c.bytes)
		}
		c.maxRuns = 8
		for _, run := range []string{"r4", "r5"} {
			if _, err := c.get(ctx, run, st, "", from(a)); err != nil {
				t.Fatal(err)
			}
		}
		if len(c.byRun) != 3 || c.bytes != 3*len(a) {
			t.Errorf("kept %d runs, %d bytes; want 3, of %d bytes", len(c.byRun), c.bytes, 3*len(a))
		}
	})
	t.Run("a read whose run was stamped otherwise is not kept", func(t *testing.T) {
		// The run ended with its shown event of the same length, or went and another
		// started under its id, between the lease and the read.
		c := newEventCache(8, 1<<20)
		otherRun := func() (string, bool, error) { return a, false, nil }
		if _, err := c.get(ctx, "r", st, "", otherRun); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.byRun["r"]; ok || c.bytes != 0 {
			t.Errorf("kept %v, %d bytes: the event read for another stamp", c.byRun, c.bytes)
		}
	})
	t.Run("an event larger than the cache is not kept and takes no place", func(t *testing.T) {
		c := newEventCache(8, 2*len(a))
		if _, err := c.get(ctx, "small", st, "", from(a)); err != nil {
			t.Fatal(err)
		}
		big := storedEvent(t, "big", `{"n": "`+strings.Repeat("x", 3*len(a))+`"}`)
		if _, err := c.get(ctx, "big", eventStamp{created: "1", size: len(big)}, "", from(big)); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.byRun["small"]; !ok || len(c.byRun) != 1 || c.bytes != len(a) {
			t.Errorf("kept %v, %d bytes; want the small one only", c.byRun, c.bytes)
		}
	})
	t.Run("an entry dropped as its load ends is counted down only if counted", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		release := make(chan struct{})
		done := make(chan error)
		go func() {
			_, err := c.get(ctx, "r", st, "", func() (string, bool, error) { <-release; return a, true, nil })
			done <- err
		}()
		testutil.Eventually(t, 5*time.Second, "the load under way", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			_, ok := c.byRun["r"]
			return ok
		})
		// Another unit finds the run stamped otherwise while the first is decoding: the
		// entry, not yet counted, is replaced.
		c.mu.Lock()
		el := c.byRun["r"]
		close(release)
		<-el.Value.(*cachedEvent).done
		c.remove(el)
		c.mu.Unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if c.bytes != 0 || len(c.byRun) != 0 {
			t.Errorf("%d bytes, %v left after the only entry went; want 0", c.bytes, c.byRun)
		}
	})
	t.Run("units that miss it together read it once", func(t *testing.T) {
		c := newEventCache(8, 1<<20)
		release := make(chan struct{})
		load := func() (string, bool, error) { <-release; return a, true, nil }
		var wg sync.WaitGroup
		got := make([]*cachedEvent, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], _ = c.get(ctx, "r", st, "", load)
			}()
		}
		close(release)
		wg.Wait()
		for _, g := range got {
			if g == nil || g != got[0] {
				t.Fatalf("units got %v", got)
			}
		}
		if c.loads != 1 {
			t.Errorf("%d loads", c.loads)
		}
	})
}

// A run's event larger than bigEvent is left out of its leases, and read from Redis,
// decoded, once by the process that runs its units: the items of a for_each of child
// runs, each leased at least twice (it starts its child, parks, is woken), read the
// one value. A smaller event comes with its lease, as before.
func TestLargeEventLeftOutOfLeases(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set, rec := subRunEngine(t, b, bigEventSrc)
		const n = 40
		id, err := e.Start(ctx, set.Workflow("batches"), event(bigItems(n)))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("run %+v: %s", r.RunSummary, stepsOf(r))
		}
		for i := range n {
			c := waitRun(t, e, fmt.Sprintf("%s:line:%d", id, i))
			if v := c.Steps[0].Output.(map[string]any)["value"]; c.Status != RunSucceeded || fmt.Sprint(v) != fmt.Sprint(i) {
				t.Errorf("child %d: %s, saw %v", i, c.Status, v)
			}
		}
		if calls := rec.list(); len(calls) != n {
			t.Errorf("%d calls", len(calls))
		}
		e.events.mu.Lock()
		loads := e.events.loads
		e.events.mu.Unlock()
		if loads != 1 {
			t.Errorf("the event was read %d times; want once", loads)
		}
	})
}

// TestLeaseLeavesOutALargeEvent: the lease of a unit of a run whose event is larger
// than bigEvent holds every field of the run but its event, and the event's length;
// the worker resumes the run with the event as stored.
func TestLeaseLeavesOutALargeEvent(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		rec := &recorder{}
		e := New(b.Client, Options{Logger: quiet}) // no pool: the first job is queued
		set := loadSet(t, rec, chainSrc)
		e.Use(set)
		for _, body := range []string{`{"name": "small"}`, `{"name": "big", "pad": "` + strings.Repeat("p", bigEvent) + `"}`} {
			id, err := e.Start(ctx, set.Workflow("chain"), event(body))
			if err != nil {
				t.Fatal(err)
			}
			sh := e.q.shardFor("chain")
			stored, err := b.Client.HGet(ctx, sh.run(id), "event").Result()
			if err != nil {
				t.Fatal(err)
			}
			jobs, _, err := e.q.lease(ctx, sh, 1)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("leased %v, %v", jobs, err)
			}
			j := jobs[0]
			big := len(stored) > bigEvent
			if got, ok := j.run["event"]; big && (ok || j.eventSize != len(stored)) || !big && (got != stored || j.eventSize != 0) {
				t.Errorf("%d bytes: the lease has event %v (%d bytes), length %d", len(stored), ok, len(got), j.eventSize)
			}
			if j.run["id"] != id || j.run["wf"] != "chain" || j.run["created"] == "" {
				t.Errorf("the lease's run fields: %v", j.run)
			}
			r, err := e.resume(ctx, j)
			if err != nil {
				t.Fatal(err)
			}
			if body := r.env.Event["body"].(map[string]any); body["name"] != map[bool]string{true: "big", false: "small"}[big] {
				t.Errorf("resumed with %v", body["name"])
			}
		}
	})
}
