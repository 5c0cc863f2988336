package workflows

import (
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Set is an immutable, validated set of workflows: the result of loading a directory.
// Nothing in it changes after Load returns, so any number of goroutines may read it.
type Set struct {
	workflows []*Workflow // sorted by name
	byName    map[string]*Workflow
	unset     []Unset                    // with Options.AllowUnset: what was not set
	missing   map[reader]hcl.Diagnostics // by reader: the errors for what it needs and is not set
	apis      map[string]*API
	env       []EnvValue // what env() read that hookflow test reads otherwise
	dir       string     // Options.Dir: where the files were read
}

// Workflows returns the workflows sorted by name. The slice must not be modified.
func (s *Set) Workflows() []*Workflow { return s.workflows }

// Workflow returns the workflow with the given name, or nil.
func (s *Set) Workflow(name string) *Workflow { return s.byName[name] }

// Workflow is one workflow block, compiled.
type Workflow struct {
	Name        string
	Description string
	// Version identifies the workflow's content: runs record it, so a run keeps the
	// definition it started with when the file changes.
	Version string
	// OlderVersion is, for a version loaded from its stored files (Options.Stored),
	// the version builds before "workflows: a version hashes the vars and api blocks
	// whatever files hold them" gave those files, where it differs from Version: they
	// hashed the vars and api blocks in the order of the files' names. The runs such a
	// build started record it.
	OlderVersion string
	Triggers     []*Trigger
	Filter       *Condition    // nil: every event starts a run
	Concurrency  int           // most runs in flight; 0: no limit
	Timeout      time.Duration // deadline of a whole run; 0: none
	// Steps is every step in file order, a parallel block's steps in place.
	Steps []*Step
	// Nodes is the workflow's order, in file order: a step, or a parallel block of
	// steps that start together.
	Nodes []*Node
	// OnFailure are the steps of the on_failure block, in file order, each named
	// on_failure/NAME: they run one after another when a run fails for good.
	OnFailure []*Step
	Vars      map[string]any // the load-time vars, readable at run time as vars.NAME
	// Secrets hides the values read with secret() in anything recorded or shown.
	Secrets *Redactor
	// Sources are the files the workflow was loaded from: its own and every file with
	// vars. Loading them again gives the same workflow, so another process can run it.
	Sources  []Source
	DefRange hcl.Range

	derived sync.Map // what Derived made of the workflow, by key
}

// Derived returns what make makes of the workflow, made once per key: what the engine
// works out once per version (the plan a run starts with, what a run forgets). It goes
// with the workflow, so it is freed with it when nothing runs the version any more.
// make is given the workflow (a function that captures nothing costs nothing to pass).
func (w *Workflow) Derived(key any, make func(*Workflow) any) any {
	if v, ok := w.derived.Load(key); ok {
		return v
	}
	v, _ := w.derived.LoadOrStore(key, make(w))
	return v
}

// WaitStep returns the wait step (a step whose action is a Waiter) named name: one of
// the workflow's steps, or else one of its on_failure block's, which runs name as
// on_failure/NAME. nil when there is none.
func (w *Workflow) WaitStep(name string) *Step {
	for _, n := range []string{name, OnFailurePrefix + name} {
		if s, _ := w.Step(n); s != nil {
			if _, ok := s.Action.(Waiter); ok {
				return s
			}
		}
	}
	return nil
}

// Step returns the named step and its index in Steps, or nil and -1. A step of the
// on_failure block (on_failure/NAME) is found too, with -1.
func (w *Workflow) Step(name string) (*Step, int) {
	for i, s := range w.Steps {
		if s.Name == name {
			return s, i
		}
	}
	if IsOnFailure(name) {
		for _, s := range w.OnFailure {
			if s.Name == name {
				return s, -1
			}
		}
	}
	return nil, -1
}

// Node returns the place in the workflow's order of a step or a parallel block, by
// name: for a step in a parallel block, the block's. It returns nil when there is none.
func (w *Workflow) Node(name string) *Node {
	for _, n := range w.Nodes {
		if n.Name == name {
			return n
		}
		if n.Parallel {
			for _, s := range n.Steps {
				if s.Name == name {
					return n
				}
			}
		}
	}
	return nil
}

// Node is one place in a workflow's order: a step, or a parallel block of steps that
// start together. What follows a parallel block starts once all of its steps have
// finished.
type Node struct {
	Name     string // the step's name, or the parallel block's
	Parallel bool
	Steps    []*Step // one for a step; the block's steps in file order for a parallel
	DefRange hcl.Range
}

// Trigger is one trigger block. Config is what the trigger kind's constructor built.
type Trigger struct {
	Kind     string
	Workflow string
	Config   any
	DefRange hcl.Range
}

// OnError says what a failed step does to its run.
type OnError uint8

const (
	// FailRun stops the run and marks it failed (the default).
	FailRun OnError = iota
	// Continue records the failure and goes on with the next step.
	Continue
)

// DefaultStepTimeout bounds one attempt of a step that sets no timeout.
const DefaultStepTimeout = 30 * time.Second

// Step is one step block, compiled.
type Step struct {
	Kind    string
	Name    string
	If      *Condition // nil: always runs; with ForEach, evaluated for each item
	Timeout time.Duration
	Retry   *Retry // nil: one attempt
	OnError OnError
	// ForEach is nil for a step that runs once; else the step runs once per item of
	// the list or map it gives (see Items).
	ForEach     *Expr
	MaxParallel int    // items in flight at once; DefaultMaxParallel when not set
	Parallel    string // name of the parallel block holding the step; "" at the top level
	Action      Action
	// Sensitive hides the step's output wherever it is shown (history, API, logs, a
	// dry run): later steps of the run read it, and its values are redacted like
	// secrets wherever they appear again.
	Sensitive bool
	DefRange  hcl.Range
	// carries are the steps whose values a step whose output is its own attributes
	// (set) copies into it.
	carries []string
	// timeoutWritten says the step's timeout is written, in the step or its api; else
	// it is the kind's default.
	timeoutWritten bool
}

// MaxConcurrency bounds a workflow's concurrency.
const MaxConcurrency = 100_000

// DefaultRetryMax is a retry's max when it gives none.
const DefaultRetryMax = 5 * time.Minute

// Retry is a step's retry policy.
type Retry struct {
	Attempts    int           // attempts in all, the first included
	Exponential bool          // double the wait after each attempt; else constant
	Initial     time.Duration // the first wait
	Max         time.Duration // no wait is longer
}
