package main

import (
	"sync"

	"github.com/hookflow/hookflow/engine"
)

// stepLabels names the steps of a run and of its child runs as tests name them (see
// runStep): "create" in the run, "invoice/create" in the child run of its workflow
// step invoice ("invoice/deeper/create" in a grandchild's), and the steps of every
// item's child of a for_each workflow step alike, "invoices/create". It learns the
// name of each child run before the child starts, from engine.Options.Child. The
// zero value is ready to use.
type stepLabels struct {
	mu sync.Mutex
	// paths are, by child run id, the workflow steps that lead to it: "invoice/"
	// ("invoice/deeper/" for a grandchild). The run itself is "".
	paths map[string]string
}

// label is how tests name step of run, the run or one of its child runs.
func (l *stepLabels) label(run, step string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paths[run] + step
}

// learn names the steps of the child run call is about to start, as engine.Options.Child
// tells of it: its workflow step's label and a slash. It returns that label.
func (l *stepLabels) learn(call engine.ChildCall) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paths == nil {
		l.paths = map[string]string{}
	}
	label := l.paths[call.Run] + call.Step
	l.paths[call.ChildID] = label + "/"
	return label
}
