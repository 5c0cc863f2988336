package engine

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// The units of one node start together, at its start; the next node starts when the
// longest of them ends; a child's time is read once.
func TestVirtualClock(t *testing.T) {
	v := newVirtualClock()
	a, b := unit{step: "a"}, unit{step: "b"}
	item0, item1 := unit{step: "each", part: partItem, item: 0}, unit{step: "each", part: partItem, item: 1}
	steps := []struct {
		name string
		do   func() time.Duration
		want time.Duration
	}{
		{"a starts at 0", func() time.Duration { return v.start("r", "a", a) }, 0},
		{"a delays 1s", func() time.Duration { return v.add("r", a, time.Second) }, time.Second},
		{"a retries at 1s", func() time.Duration { return v.start("r", "a", a) }, time.Second},
		{"block starts after a", func() time.Duration { return v.start("r", "block", b) }, time.Second},
		{"b waits 2s", func() time.Duration { return v.add("r", b, 2*time.Second) }, 3 * time.Second},
		{"each of the block starts with b", func() time.Duration { return v.start("r", "block", item0) }, time.Second},
		{"an item waits 1s", func() time.Duration { return v.add("r", item0, time.Second) }, 2 * time.Second},
		{"another item waits 500ms", func() time.Duration { return v.add("r", item1, 500*time.Millisecond) }, 1500 * time.Millisecond},
		{"next starts after the longest", func() time.Duration { return v.start("r", "next", unit{step: "next"}) }, 3 * time.Second},
		{"another run has its own time", func() time.Duration { return v.start("r2", "a", a) }, 0},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: %s, want %s", s.name, got, s.want)
		}
	}
	v.end("r", "r2")
	if got := v.childTook("r2", "r"); got != 3*time.Second {
		t.Errorf("child's time %s, want 3s", got)
	}
	if got := v.childTook("r2", "r"); got != 0 {
		t.Errorf("child's time read twice: %s", got)
	}
	if len(v.ended) != 0 {
		t.Errorf("times kept after they were read: %v", v.ended)
	}
}

// The time of a child run is kept only while its parent runs: a child of a step that
// does not wait is never read, and goes with its parent.
func TestVirtualClockForgetsChildren(t *testing.T) {
	v := newVirtualClock()
	a := unit{step: "a"}
	v.start("parent", "a", a)
	v.start("parent:a", "x", unit{step: "x"})
	v.add("parent:a", unit{step: "x"}, time.Second)
	v.end("parent:a", "parent") // a step that does not wait: nobody reads it
	if len(v.ended["parent"]) != 1 {
		t.Fatalf("child's time not kept while its parent runs: %v", v.ended)
	}
	v.end("parent", "")
	if len(v.ended) != 0 || len(v.runs) != 0 {
		t.Errorf("the parent ended, its child's time stays: ended %v, runs %v", v.ended, v.runs)
	}

	// A child that ends after its parent keeps nothing.
	v.start("parent", "a", a)
	v.start("parent:a", "x", unit{step: "x"})
	v.end("parent", "")
	v.end("parent:a", "parent")
	if len(v.ended) != 0 || len(v.runs) != 0 {
		t.Errorf("a child that ended after its parent is kept: ended %v, runs %v", v.ended, v.runs)
	}
}

// A retry's wait under virtual time is the longest backoff may draw.
func TestLongestBackoff(t *testing.T) {
	for _, c := range []struct {
		name    string
		retry   workflows.Retry
		attempt int
		asked   time.Duration
		want    time.Duration
	}{
		{"constant", workflows.Retry{Initial: time.Second, Max: time.Minute}, 3, 0, time.Second},
		{"exponential, first", workflows.Retry{Exponential: true, Initial: time.Second, Max: time.Minute}, 1, 0, time.Second},
		{"exponential, third", workflows.Retry{Exponential: true, Initial: time.Second, Max: time.Minute}, 3, 0, 4 * time.Second},
		{"exponential, capped", workflows.Retry{Exponential: true, Initial: time.Second, Max: 3 * time.Second}, 5, 0, 3 * time.Second},
		{"retry-after", workflows.Retry{Initial: time.Second, Max: time.Minute}, 1, 10 * time.Second, 10 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := backoff(&c.retry, c.attempt, c.asked, longestDraw); got != c.want {
				t.Errorf("%s, want %s", got, c.want)
			}
		})
	}
}
