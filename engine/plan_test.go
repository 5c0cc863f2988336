package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

const planSrc = `
workflow "w" {
  step "probe" "a" {
    value = "a"
  }
  step "probe" "items" {
    for_each     = "event.body.xs"
    max_parallel = 2
    value        = "{{ each.value }}"
  }
  parallel "p" {
    step "probe" "x" {
      value = "x"
    }
    step "probe" "y" {
      value    = "y"
      on_error = "continue"
    }
  }
  step "probe" "c" {
    value    = "c"
    on_error = "continue"
  }
  step "probe" "d" {
    value = "d"
  }
}

workflow "f" {
  step "probe" "a" {
    value = "a"
  }
  step "probe" "b" {
    value = "b"
  }
  on_failure {
    step "probe" "notify" {
      value = "{{ run.failed_step }}: {{ run.error }}"
    }
    step "probe" "page" {
      value = "page"
    }
  }
}

workflow "b" {
  parallel "q" {
    step "probe" "lines" {
      for_each = "event.body.xs"
      value    = "{{ each.value }}"
      on_error = "continue"
    }
    step "probe" "z" {
      value = "z"
    }
  }
}
`

// describe renders a plan in one line, for comparing with a table's want.
func describe(p *Plan) string {
	var parts []string
	if len(p.Start) > 0 {
		var names []string
		for _, u := range p.Start {
			names = append(names, u.String())
		}
		parts = append(parts, "start "+strings.Join(names, " "))
	}
	for _, name := range sortedKeys(p.Todo) {
		parts = append(parts, fmt.Sprintf("todo %s%v", name, p.Todo[name]))
	}
	for _, name := range sortedKeys(p.Counts) {
		parts = append(parts, fmt.Sprintf("count %s=%d", name, p.Counts[name]))
	}
	for _, name := range sortedKeys(p.Records) {
		parts = append(parts, fmt.Sprintf("record %s=%s", name, p.Records[name].Status))
	}
	if p.Handle {
		parts = append(parts, "handle")
	}
	if p.Handled {
		parts = append(parts, "handled")
	}
	for what, name := range map[string]string{"join": p.Join, "next": p.Next, "drop": p.Drop} {
		if name != "" {
			parts = append(parts, what+" "+name)
		}
	}
	from := 0
	if len(p.Start) > 0 {
		from = 1 // the start first, the rest sorted
	}
	slices.Sort(parts[from:])
	parts = append(parts, string(p.Status))
	if p.Error != "" {
		parts = append(parts, fmt.Sprintf("%s: %q", p.FailedStep, p.Error))
	}
	return strings.Join(parts, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestPlan(t *testing.T) {
	set := loadSet(t, &recorder{}, planSrc)
	ok := func() *Record { return &Record{Status: StatusSucceeded} }
	failed := func() *Record { return &Record{Status: StatusFailed, Error: "boom"} }
	// items returns a set of n items with the given records.
	items := func(n int, recs map[int]*Record) *itemSet {
		if recs == nil {
			recs = map[int]*Record{}
		}
		return &itemSet{n: n, records: recs}
	}
	done := map[string]*Record{"a": ok(), "items": {Status: StatusSucceeded, ForEach: true}, "p": ok(), "x": ok(), "y": ok()}
	with := func(extra map[string]*Record) map[string]*Record {
		m := map[string]*Record{}
		for k, v := range done {
			m[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name    string
		wf      string // "w" when empty
		steps   map[string]*Record
		counts  map[string]int
		items   map[string]*itemSet
		changed *unit
		want    string
	}{
		{name: "a start runs the first step", want: "start a; running"},
		{name: "a straight line goes on to the next step", steps: map[string]*Record{"a": ok()}, changed: &unit{step: "a"},
			want: "start items; running"},
		{name: "a skipped step is passed", steps: map[string]*Record{"a": {Status: StatusSkipped}}, changed: &unit{step: "a"},
			want: "start items; running"},
		{name: "a failed step fails the run", steps: map[string]*Record{"a": failed()}, changed: &unit{step: "a"},
			want: `failed; a: "step a: boom"`},
		{name: "listed items start up to max_parallel", steps: map[string]*Record{"a": ok()},
			items: map[string]*itemSet{"items": items(5, nil)}, changed: &unit{step: "items"},
			want: "start items[0] items[1]; count items=5; record items=running; todo items[2 3 4]; running"},
		{name: "no items: the step settles, the parallel block starts", steps: map[string]*Record{"a": ok()},
			items: map[string]*itemSet{"items": items(0, nil)}, changed: &unit{step: "items"},
			want: "start x y; count p=2; record items=succeeded; running"},
		{name: "an item settles: the next waiting one takes its slot",
			steps:  map[string]*Record{"a": ok(), "items": {Status: StatusRunning, ForEach: true}},
			counts: map[string]int{"items": 3}, items: map[string]*itemSet{"items": items(0, map[int]*Record{1: ok()})},
			changed: &unit{step: "items", part: partItem, item: 1}, want: "join items; next items; running"},
		{name: "a failed item drops the waiting ones",
			steps:  map[string]*Record{"a": ok(), "items": {Status: StatusRunning, ForEach: true}},
			counts: map[string]int{"items": 3}, items: map[string]*itemSet{"items": items(0, map[int]*Record{1: failed()})},
			changed: &unit{step: "items", part: partItem, item: 1}, want: "drop items; join items; running"},
		{name: "the items join settles the step in order", steps: map[string]*Record{"a": ok()},
			counts:  map[string]int{"items": 0},
			items:   map[string]*itemSet{"items": items(3, map[int]*Record{0: ok(), 1: {Status: StatusSkipped}, 2: ok()})},
			changed: &unit{step: "items", part: partJoin}, want: "start x y; count p=2; record items=succeeded; running"},
		{name: "a failure with items never started fails the step and the run", steps: map[string]*Record{"a": ok()},
			counts:  map[string]int{"items": 0},
			items:   map[string]*itemSet{"items": items(4, map[int]*Record{0: ok(), 1: failed()})},
			changed: &unit{step: "items", part: partJoin}, want: `record items=failed; failed; items: "step items: item 1: boom"`},
		{name: "a step of a parallel block counts down its join", steps: with(map[string]*Record{"p": nil, "y": nil}),
			counts: map[string]int{"p": 2}, changed: &unit{step: "x"}, want: "join p; running"},
		{name: "the parallel join fails the run for a failed step", steps: with(map[string]*Record{"p": nil, "x": failed()}),
			counts: map[string]int{"p": 0}, changed: &unit{step: "p", part: partJoin},
			want: `record p=failed; failed; x: "step x: boom"`},
		{name: "the parallel join goes on past a step that may fail",
			steps:  with(map[string]*Record{"p": nil, "y": failed()}),
			counts: map[string]int{"p": 0}, changed: &unit{step: "p", part: partJoin},
			want: "start c; record p=succeeded; running"},
		{name: "on_error continue goes on", steps: with(map[string]*Record{"c": failed()}), changed: &unit{step: "c"},
			want: "start d; running"},
		{name: "the last step ends the run", steps: with(map[string]*Record{"c": ok(), "d": ok()}), changed: &unit{step: "d"},
			want: "succeeded"},
		{name: "a replay starts the items without a record", steps: map[string]*Record{"a": ok()},
			items: map[string]*itemSet{"items": items(5, map[int]*Record{0: ok(), 2: ok()})},
			want:  "start items[1] items[3]; count items=3; record items=running; todo items[4]; running"},
		{name: "a replay of a parallel block starts its failed step only", steps: with(map[string]*Record{"p": nil, "x": nil}),
			want: "start x; count p=1; running"},
		{name: "a for_each step whose items cannot be listed counts down its block", wf: "b",
			steps: map[string]*Record{"lines": failed()}, counts: map[string]int{"q": 2}, changed: &unit{step: "lines"},
			want: "join q; running"},
		{name: "a for_each step with no items counts down its block", wf: "b",
			counts: map[string]int{"q": 2}, items: map[string]*itemSet{"lines": items(0, nil)}, changed: &unit{step: "lines"},
			want: "join q; record lines=succeeded; running"},
		{name: "the join of a for_each step counts down its block", wf: "b",
			counts:  map[string]int{"q": 1, "lines": 0},
			items:   map[string]*itemSet{"lines": items(2, map[int]*Record{0: ok(), 1: failed()})},
			changed: &unit{step: "lines", part: partJoin}, want: "join q; record lines=failed; running"},
		{name: "an item failing with on_error continue frees its slot", wf: "b",
			counts: map[string]int{"q": 2, "lines": 3}, items: map[string]*itemSet{"lines": items(0, map[int]*Record{0: failed()})},
			changed: &unit{step: "lines", part: partItem}, want: "join lines; next lines; running"},
		{name: "the block's join goes on past a for_each step that may fail", wf: "b",
			steps:   map[string]*Record{"lines": {Status: StatusFailed, ForEach: true}, "z": ok()},
			counts:  map[string]int{"q": 0},
			changed: &unit{step: "q", part: partJoin}, want: "record q=succeeded; succeeded"},
		{name: "a failure starts the first on_failure step", wf: "f", steps: map[string]*Record{"a": ok(), "b": failed()},
			changed: &unit{step: "b"}, want: `start on_failure/notify; handle; running; b: "step b: boom"`},
		{name: "on_failure steps run one after another", wf: "f",
			steps:   map[string]*Record{"a": ok(), "b": failed(), "on_failure/notify": ok()},
			changed: &unit{step: "on_failure/notify"}, want: `start on_failure/page; running; b: "step b: boom"`},
		{name: "a retrying on_failure step holds the run", wf: "f",
			steps:   map[string]*Record{"a": failed(), "on_failure/notify": {Status: StatusRetrying}},
			changed: &unit{step: "on_failure/notify"}, want: `running; a: "step a: boom"`},
		{name: "the run ends failed after its on_failure steps", wf: "f",
			steps:   map[string]*Record{"a": ok(), "b": failed(), "on_failure/notify": ok(), "on_failure/page": ok()},
			changed: &unit{step: "on_failure/page"}, want: `handled; failed; b: "step b: boom"`},
		{name: "a failed on_failure step ends them, failed, and starts nothing", wf: "f",
			steps:   map[string]*Record{"a": ok(), "b": failed(), "on_failure/notify": failed()},
			changed: &unit{step: "on_failure/notify"}, want: `handled; failed; b: "step b: boom"`},
		{name: "a run that succeeds runs no on_failure step", wf: "f", steps: map[string]*Record{"a": ok(), "b": ok()},
			changed: &unit{step: "b"}, want: "succeeded"},
		{name: "a replay starts the failed step, not on_failure", wf: "f", steps: map[string]*Record{"a": ok()},
			want: "start b; running"},
		{name: "a step the run's timeout stopped fails the run, even one that may fail",
			steps:   with(map[string]*Record{"c": {Status: StatusFailed, Error: "run timed out", TimedOut: true}}),
			changed: &unit{step: "c"}, want: `failed; c: "step c: run timed out"`},
		{name: "an item the run's timeout stopped drops the waiting ones, even where items may fail", wf: "b",
			counts:  map[string]int{"q": 2, "lines": 3},
			items:   map[string]*itemSet{"lines": items(0, map[int]*Record{0: {Status: StatusFailed, TimedOut: true}})},
			changed: &unit{step: "lines", part: partItem}, want: "drop lines; join lines; running"},
		{name: "a timed-out item fails its step and its parallel block, even where it may fail", wf: "b",
			counts:  map[string]int{"q": 1, "lines": 0},
			items:   map[string]*itemSet{"lines": items(2, map[int]*Record{0: ok(), 1: {Status: StatusFailed, Error: "run timed out", TimedOut: true}})},
			changed: &unit{step: "lines", part: partJoin}, want: "join q; record lines=failed; running"},
		{name: "the run's timeout fails it after a parallel block", wf: "b",
			steps:   map[string]*Record{"lines": {Status: StatusFailed, ForEach: true, Error: "item 1: run timed out", TimedOut: true}, "z": ok()},
			counts:  map[string]int{"q": 0},
			changed: &unit{step: "q", part: partJoin}, want: `record q=failed; failed; lines: "step lines: item 1: run timed out"`},
		{name: "a timeout starts on_failure", wf: "f", steps: map[string]*Record{"a": {Status: StatusFailed, Error: "run timed out", TimedOut: true}},
			changed: &unit{step: "a"}, want: `start on_failure/notify; handle; running; a: "step a: run timed out"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &runRecord{steps: tt.steps, counts: tt.counts, items: tt.items}
			if rec.steps == nil {
				rec.steps = map[string]*Record{}
			}
			if rec.counts == nil {
				rec.counts = map[string]int{}
			}
			if rec.items == nil {
				rec.items = map[string]*itemSet{}
			}
			name := tt.wf
			if name == "" {
				name = "w"
			}
			if got := describe(plan(set.Workflow(name), rec, tt.changed)); got != tt.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// A replay clears what failed the run and nothing else: the failed step of a parallel
// block (and the block), the failed items of a for_each step.
func TestClearFailures(t *testing.T) {
	wf := loadSet(t, &recorder{}, planSrc).Workflow("w")
	rec := &runRecord{
		steps: map[string]*Record{"a": {Status: StatusSucceeded}, "items": {Status: StatusFailed, ForEach: true},
			"p": {Status: StatusFailed}, "x": {Status: StatusFailed}, "y": {Status: StatusFailed}},
		counts: map[string]int{"items": 0, "p": 0},
		items: map[string]*itemSet{"items": {n: 4, records: map[int]*Record{
			0: {Status: StatusSucceeded}, 1: {Status: StatusFailed}, 3: {Status: StatusFailed}}}},
	}
	cl := clearFailures(wf, rec)
	if got := fmt.Sprint(cl.fields); got != "[s:items j:items s:p j:p p:p s:x]" { // p:p: the block's parked waits
		t.Errorf("fields cleared %s", got)
	}
	if got := fmt.Sprint(cl.items); got != "map[items:[1 3]]" {
		t.Errorf("items cleared %s", got)
	}
	if _, ok := rec.steps["y"]; !ok {
		t.Error("y may fail (on_error = continue): its record stays")
	}
}

// A replay clears the records of the on_failure steps with the failure they answered.
func TestClearFailuresOnFailure(t *testing.T) {
	wf := loadSet(t, &recorder{}, planSrc).Workflow("f")
	rec := &runRecord{
		steps: map[string]*Record{"a": {Status: StatusSucceeded}, "b": {Status: StatusFailed},
			"on_failure/notify": {Status: StatusSucceeded}, "on_failure/page": {Status: StatusFailed}},
		counts: map[string]int{}, items: map[string]*itemSet{},
	}
	cl := clearFailures(wf, rec)
	slices.Sort(cl.fields)
	if got := fmt.Sprint(cl.fields); got != "[s:b s:on_failure/notify s:on_failure/page]" {
		t.Errorf("fields cleared %s", got)
	}
	if got := describe(plan(wf, rec, nil)); got != "start b; running" {
		t.Errorf("plan after the replay's clearing: %s", got)
	}
}

// A for_each step that failed names its first failed item, and counts the others.
func TestSettleItemsCountsFailures(t *testing.T) {
	step := &workflows.Step{Name: "items"}
	for _, tt := range []struct {
		failed int
		want   string
	}{
		{1, "item 0: down"},
		{2, "item 0: down (and 1 more item failed)"},
		{3, "item 0: down (and 2 more items failed)"},
	} {
		set := &itemSet{n: tt.failed, records: map[int]*Record{}}
		for i := range tt.failed {
			set.records[i] = &Record{Status: StatusFailed, Error: "down"}
		}
		if got := settleItems(step, set); got.Status != StatusFailed || got.Error != tt.want {
			t.Errorf("%d failed: %s %q, want %q", tt.failed, got.Status, got.Error, tt.want)
		}
	}
}
