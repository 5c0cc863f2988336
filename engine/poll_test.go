package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// TestPollState: a tick is claimed once and an earlier one not at all; a poll's
// cursor is read back; a key marked seen starts no run, and one that started a run
// keeps it.
func TestPollState(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		e, set, _ := running(t, b, chainSrc, 2)
		wf, ctx := set.Workflow("chain"), context.Background()
		const sched = "poll every 1m0s abc"
		last, err := e.LastTick(ctx, wf, sched)
		if err != nil {
			t.Fatal(err)
		}
		tick := last.Truncate(time.Minute)
		if ok, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Minute)); ok || err != nil {
			t.Errorf("the same tick claimed again: %v %v", ok, err)
		}
		if ok, err := e.ClaimTick(ctx, wf, sched, tick); ok || err != nil {
			t.Errorf("an earlier tick claimed: %v %v", ok, err)
		}
		if _, err := e.ClaimTick(ctx, wf, sched, tick.Add(time.Hour)); err == nil {
			t.Error("a tick an hour past Redis's clock was claimed")
		}

		if st, found, err := e.PollState(ctx, wf, sched); st.Cursor != nil || found || err != nil {
			t.Errorf("a new poll's state: %v %v %v", st, found, err)
		}
		if err := e.SavePoll(ctx, wf, sched, workflows.PollState{Cursor: map[string]any{"since": "2026-01-01"}, Recording: true}); err != nil {
			t.Fatal(err)
		}
		if st, found, err := e.PollState(ctx, wf, sched); !found || err != nil || st.Cursor.(map[string]any)["since"] != "2026-01-01" || !st.Recording {
			t.Errorf("state read back: %v %v %v", st, found, err)
		}
		// A 64-bit id read back as it was saved: a float64 would round it to …504.
		if err := e.SavePoll(ctx, wf, sched, workflows.PollState{Cursor: map[string]any{"since_id": 1864047379834028503, "n": 1.5}}); err != nil {
			t.Fatal(err)
		}
		if st, _, err := e.PollState(ctx, wf, sched); err != nil || fmt.Sprint(st.Cursor) != "map[n:1.5 since_id:1864047379834028503]" {
			t.Errorf("a 64-bit cursor read back: %v %v", st.Cursor, err)
		}

		started, first, err := e.StartOnce(ctx, wf, event(`{"name": "a"}`), "poll:a", time.Hour)
		if !first || err != nil {
			t.Fatal(first, err)
		}
		if err := e.MarkSeen(ctx, wf, []string{"poll:a", "poll:b"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if id, first, err := e.StartOnce(ctx, wf, event(`{"name": "a"}`), "poll:a", time.Hour); first || err != nil || id != started {
			t.Errorf("a key that started a run, marked seen: %q %v %v, want its run %q", id, first, err, started)
		}
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "b"}`), "poll:b", time.Hour); first || err != nil {
			t.Errorf("a key marked seen started a run: %v %v", first, err)
		}
		if seen, err := e.Seen(ctx, wf, []string{"poll:a", "poll:b", "poll:c"}); err != nil || fmt.Sprint(seen) != "[true true false]" {
			t.Errorf("seen: %v %v, want a and b", seen, err)
		}
		// A key kept seen past the window it started its run with stays a duplicate.
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "d"}`), "poll:d", 200*time.Millisecond); !first || err != nil {
			t.Fatal(first, err)
		}
		if err := e.KeepSeen(ctx, wf, []string{"poll:b", "poll:d", "poll:e"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "d"}`), "poll:d", 200*time.Millisecond); first || err != nil {
			t.Errorf("a key kept seen started a run past its first window: %v %v", first, err)
		}
		if seen, err := e.Seen(ctx, wf, []string{"poll:b", "poll:d", "poll:e"}); err != nil || fmt.Sprint(seen) != "[true true false]" {
			t.Errorf("seen after KeepSeen: %v %v, want b and d", seen, err)
		}
		// Past its window a key is gone, though the embedded Redis has yet to expire it:
		// not seen, not kept, and marked anew.
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "f"}`), "poll:f", 200*time.Millisecond); !first || err != nil {
			t.Fatal(first, err)
		}
		if err := e.MarkSeen(ctx, wf, []string{"poll:g"}, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if seen, err := e.Seen(ctx, wf, []string{"poll:f", "poll:g"}); err != nil || fmt.Sprint(seen) != "[false false]" {
			t.Errorf("seen past the window: %v %v, want neither", seen, err)
		}
		if err := e.KeepSeen(ctx, wf, []string{"poll:f"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := e.MarkSeen(ctx, wf, []string{"poll:g"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if seen, err := e.Seen(ctx, wf, []string{"poll:f", "poll:g"}); err != nil || fmt.Sprint(seen) != "[false true]" {
			t.Errorf("seen after keeping f and marking g past their windows: %v %v, want g only", seen, err)
		}
		if _, first, err := e.StartOnce(ctx, wf, event(`{"name": "g"}`), "poll:g", time.Hour); first || err != nil {
			t.Errorf("a key marked seen again started a run: %v %v", first, err)
		}

		// One holder at a time has a poll's lock; a hold that is over, though the
		// embedded Redis has yet to expire it, is another's to take, and no longer its
		// holder's to keep.
		lock := func(holder string, ttl time.Duration, keep, want bool) {
			t.Helper()
			if ok, err := e.LockPoll(ctx, wf, sched, holder, ttl, keep); ok != want || err != nil {
				t.Errorf("%s, keep %v: %v %v, want %v", holder, keep, ok, err, want)
			}
		}
		lock("a", time.Hour, false, true)
		lock("b", time.Hour, false, false)
		lock("b", time.Hour, true, false)
		lock("a", time.Hour, true, true)
		if err := e.UnlockPoll(ctx, wf, sched, "b"); err != nil {
			t.Fatal(err)
		}
		lock("b", time.Hour, false, false) // b freed nothing: a has it
		if err := e.UnlockPoll(ctx, wf, sched, "a"); err != nil {
			t.Fatal(err)
		}
		lock("a", time.Hour, true, false) // freed: nothing to keep
		lock("b", 200*time.Millisecond, false, true)
		time.Sleep(300 * time.Millisecond)
		lock("b", time.Hour, true, false)
		lock("a", time.Hour, false, true)

		if st, err := e.TriggerState(ctx, wf, sched); st != nil || err != nil {
			t.Errorf("the state of a poll never polled: %v %v", st, err)
		}
		for _, failure := range []string{"GET x: status 500", "GET x: status 502"} {
			if err := e.RecordPoll(ctx, wf, sched, 0, failure); err != nil {
				t.Fatal(err)
			}
		}
		st, err := e.TriggerState(ctx, wf, sched)
		if p, _ := st.(*PollStatus); err != nil || p == nil || p.Failures != 2 || p.LastError != "GET x: status 502" || p.LastErrorAt == nil || p.LastOKAt != nil {
			t.Errorf("after two failures: %+v %v", st, err)
		}
		if err := e.RecordPoll(ctx, wf, sched, 3, ""); err != nil {
			t.Fatal(err)
		}
		st, _ = e.TriggerState(ctx, wf, sched)
		if p, _ := st.(*PollStatus); p == nil || p.Failures != 0 || p.Started != 3 || p.LastOKAt == nil || p.LastError == "" {
			t.Errorf("after a good poll: %+v (the last error is kept, the failures cleared)", st)
		}

		// The time a Retry-After holds the poll until is kept with its status, and
		// shown while it is ahead.
		if until, err := e.PollHeldUntil(ctx, wf, sched); !until.IsZero() || err != nil {
			t.Errorf("a poll never held: held until %v %v", until, err)
		}
		for _, until := range []time.Time{time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()), time.UnixMilli(time.Now().Add(-time.Second).UnixMilli())} {
			if err := e.HoldPoll(ctx, wf, sched, until); err != nil {
				t.Fatal(err)
			}
			if got, err := e.PollHeldUntil(ctx, wf, sched); !got.Equal(until) || err != nil {
				t.Errorf("held until %v %v, want %v", got, err, until)
			}
			st, _ = e.TriggerState(ctx, wf, sched)
			p, _ := st.(*PollStatus)
			if ahead := until.After(time.Now()); p == nil || ahead != (p.NotBefore != nil) || ahead && !p.NotBefore.Equal(until) {
				t.Errorf("held until %v: status %+v", until, st)
			}
		}
	})
}
