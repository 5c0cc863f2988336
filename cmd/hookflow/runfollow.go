package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/hookflow/hookflow/engine"
)

// Printing a run with its child runs, step by step, as hookflow run follows it.

// follow waits for the run to finish, printing each step to w as it ends, as runs show
// prints it, with what sent(run, step) says it sent (a dry run), or with nil, what its
// record says it sent. The child run of a workflow step is printed below the step,
// indented, its steps named as tests name them (invoice/create). While a step, an
// item or a step of a parallel block waits to be tried again, a line to progress says
// so, once per failed attempt.
func follow(ctx context.Context, eng *engine.Engine, runID string, w, progress io.Writer, sent func(run, step string) string) (*engine.Run, error) {
	f := &follower{eng: eng, progress: termSafe(progress), sent: sent, wait: true, all: jsonShowsAll}
	if sent != nil {
		f.answered = "a --response"
	}
	return f.run(ctx, runID, "", termSafe(w))
}

// follower prints a run and its child runs step by step: what its steps sent as sent
// says (nil: as their records say), retry notices to progress. With wait, it prints
// each step as it ends and waits for each run to end; without, it prints each run as
// it stands, every step with its status. answered names what answers a workflow step
// in place of its child run ("a --response", "a mock"), for a child run not found;
// all what a value, a body or a list of items cut short says after how much is left
// out (see jsonShowsAll). unended lists the child runs it printed that had not
// ended, as they stood.
type follower struct {
	eng      *engine.Engine
	progress io.Writer
	sent     func(run, step string) string
	wait     bool
	answered string
	all      string
	unended  []childRun
}

// run follows one run, the one started or a child run of it, whose steps are named
// with prefix ("invoice/" for the child run of step invoice).
func (f *follower) run(ctx context.Context, runID, prefix string, w io.Writer) (*engine.Run, error) {
	printed := 0
	retried := map[string]int{} // by step or item path: the attempts whose failure was printed
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		run, err := f.eng.Run(ctx, runID)
		if err != nil {
			return nil, err
		}
		done := run.Status.Done()
		// Once the run is done, the steps a failure left unrun are printed too; and
		// all of them when it is not waited for.
		all := done || !f.wait
		shown := func(key string) string { return f.sent(runID, key) }
		if f.sent == nil {
			recorded := recordedRequests(run, f.all)
			shown = func(key string) string { return recorded[key] }
		}
		for ; printed < len(run.Steps) && (all || stepDone(run.Steps[printed].Status)); printed++ {
			s := &run.Steps[printed]
			printStep(w, printed+1, labeled(s, prefix), "", shown, f.all)
			for _, child := range childRuns(s) {
				if err := f.child(ctx, child.id, prefix+child.of, prefix+s.Name+"/", w); err != nil {
					return nil, err
				}
			}
		}
		if all {
			return run, nil
		}
		f.retries(run.Steps[printed:], prefix, retried)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// retries says, once per failed attempt, which of the steps not printed yet wait to be
// tried again: the step that runs, an item of a for_each step, a step of a parallel
// block (the block's own entry comes first, and a for_each step runs while its items
// are retried). retried holds, by path, the attempts whose failure was said.
func (f *follower) retries(steps []engine.StepRun, prefix string, retried map[string]int) {
	say := func(s *engine.StepRun) {
		if s.Status != engine.StatusRetrying || retried[s.Path] >= s.Attempts {
			return
		}
		retried[s.Path] = s.Attempts
		named := *s
		named.Path = prefix + s.Path
		fmt.Fprintln(f.progress, retryNotice(&named, time.Now()))
	}
	for i := range steps {
		say(&steps[i])
		for j := range steps[i].Items {
			say(&steps[i].Items[j])
		}
	}
}

// child prints the child run of workflow step (or item) of below it, indented, as
// follow prints a run, its steps named with prefix, and with wait waits for it to
// end: the requests it sends are the run's too.
func (f *follower) child(ctx context.Context, runID, of, prefix string, w io.Writer) error {
	child, err := f.eng.Run(ctx, runID)
	if errors.Is(err, engine.ErrNotFound) {
		why := "it never started, or it is gone"
		if f.answered != "" {
			why = f.answered + " answered the step, or it never started"
		}
		fmt.Fprintf(w, "     child run %s: none (%s)\n", runID, why)
		return nil
	}
	if err != nil {
		return err
	}
	iw := &indentWriter{w: w, indent: "     "}
	fmt.Fprintf(iw, "run %s of %s (the child run of step %s)\n", runID, child.Workflow, of)
	if child, err = f.run(ctx, runID, prefix, iw); err != nil {
		return err
	}
	if !child.Status.Done() {
		f.unended = append(f.unended, childRun{id: runID, of: of})
	}
	printRunEnd(iw, child, false)
	return nil
}

// runWithChildren is a run as the admin API shows it, with the child runs of its
// workflow steps (and theirs): run --json prints them all, as this process's embedded
// Redis is gone once it ends.
type runWithChildren struct {
	*engine.Run
	Children []childRunJSON `json:"children,omitempty"`
}

// childRunJSON is a child run, and the step or item that started it (invoice,
// invoices[2]).
type childRunJSON struct {
	Of  string          `json:"of"`
	Run runWithChildren `json:"run"`
}

// withChildren reads the child runs of run's workflow steps, and theirs.
func withChildren(ctx context.Context, eng *engine.Engine, run *engine.Run) (runWithChildren, error) {
	out := runWithChildren{Run: run}
	for i := range run.Steps {
		for _, c := range childRuns(&run.Steps[i]) {
			child, err := eng.Run(ctx, c.id)
			if errors.Is(err, engine.ErrNotFound) {
				continue // it never started: the step's record says why
			}
			if err != nil {
				return out, err
			}
			whole, err := withChildren(ctx, eng, child)
			if err != nil {
				return out, err
			}
			out.Children = append(out.Children, childRunJSON{Of: c.of, Run: whole})
		}
	}
	return out, nil
}

// childRun is a child run a workflow step started: its id, and the step or item
// that started it, by its path (invoice, invoices[2]).
type childRun struct{ id, of string }

// childRuns are the child runs a workflow step started, its items' in order; none
// for another step.
func childRuns(s *engine.StepRun) []childRun {
	if s.Kind != "workflow" {
		return nil
	}
	var runs []childRun
	for _, r := range append([]engine.StepRun{*s}, s.Items...) {
		if out, ok := r.Output.(map[string]any); ok {
			if id, ok := out["run_id"].(string); ok && id != "" {
				runs = append(runs, childRun{id: id, of: r.Path})
			}
		}
	}
	return runs
}

// labeled is the step with its path, and its items', named with prefix, as tests
// name a child run's steps ("invoice/" + "create"); the step itself without one.
func labeled(s *engine.StepRun, prefix string) *engine.StepRun {
	if prefix == "" {
		return s
	}
	c := *s
	c.Path = prefix + s.Path
	c.Items = slices.Clone(s.Items)
	for i := range c.Items {
		c.Items[i].Path = prefix + c.Items[i].Path
	}
	return &c
}

// indentWriter writes each line with indent before it.
type indentWriter struct {
	w      io.Writer
	indent string
	inLine bool // the last write ended inside a line
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !iw.inLine {
			if _, err := io.WriteString(iw.w, iw.indent); err != nil {
				return 0, err
			}
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		if _, err := iw.w.Write(line); err != nil {
			return 0, err
		}
		iw.inLine = line[len(line)-1] != '\n'
		p = p[len(line):]
	}
	return n, nil
}

func stepDone(status engine.Status) bool { return status.Settled() }

// retryNotice says that a step's attempt failed and when the next one is, while the
// step waits for it: "find (http): attempt 1 failed: …; next attempt in 1.5s".
func retryNotice(s *engine.StepRun, now time.Time) string {
	line := s.Path
	if s.Kind != "" {
		line += " (" + s.Kind + ")"
	}
	line += fmt.Sprintf(": attempt %d failed: %s", s.Attempts, s.Error)
	if s.NextAttemptAt != nil {
		if wait := s.NextAttemptAt.Sub(now).Round(100 * time.Millisecond); wait > 0 {
			line += "; next attempt in " + wait.String()
		} else {
			line += "; next attempt now"
		}
	}
	return line
}
