package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Checking a test against the workflows: the steps its mock, expect and resume
// blocks name.

// checkTest checks a test against the workflows: its workflow, and each step it mocks
// or expects, must exist.
func checkTest(t *Test, b *hcl.Block, set *Set) hcl.Diagnostics {
	wf := set.Workflow(t.Workflow)
	if wf == nil {
		var names []string
		for _, w := range set.Workflows() {
			names = append(names, w.Name)
		}
		detail := fmt.Sprintf("There is no workflow %q beside this test; there are: %s.", t.Workflow, strings.Join(names, ", "))
		switch {
		case len(names) == 0 && set.dir != "":
			detail = fmt.Sprintf("There is no workflow %q beside this test: there are none in %s (its *.hcl files and those of "+
				"the directories under it, test files aside, are where workflows are looked for).", t.Workflow, set.dir)
		case len(names) == 0:
			detail = fmt.Sprintf("There is no workflow %q beside this test: there are none.", t.Workflow)
		}
		if s := suggestName(t.Workflow, names); s != "" {
			detail = fmt.Sprintf("There is no workflow %q. Did you mean %q?", t.Workflow, s)
		}
		rng := b.DefRange
		if content, _, _ := b.Body.PartialContent(testSchema); content != nil && content.Attributes["workflow"] != nil {
			rng = content.Attributes["workflow"].Expr.Range()
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown workflow", Detail: detail, Subject: rng.Ptr()}}
	}
	diags := testTrigger(t, wf)
	for _, label := range slices.Sorted(maps.Keys(t.Mocks)) {
		rng := t.Mocks[label].StepRange
		w, s, d := testedStep(set, wf, "mock", label, rng)
		diags = append(diags, d...)
		if s != nil && s.Kind != "http" && s.Kind != "workflow" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Mock of a step that sends no request",
				Detail: fmt.Sprintf("Step %q is %s %s step: only http steps, and workflow steps (whose result a mock gives), are answered by a mock; a test runs the others as they are.%s",
					s.Name, strings.ToLower(article(s.Kind)), s.Kind, nearStepOfKind(w, s.Name, "http", "workflow")),
				Subject: rng.Ptr()})
		}
	}
	for _, label := range slices.Sorted(maps.Keys(t.Resumes)) {
		rng := t.Resumes[label].StepRange
		w, s, d := testedStep(set, wf, "resume", label, rng)
		diags = append(diags, d...)
		if s != nil && s.Kind != "wait" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Resume of a step that does not wait",
				Detail: fmt.Sprintf("Step %q is %s %s step: only wait steps are resumed.%s",
					s.Name, strings.ToLower(article(s.Kind)), s.Kind, nearStepOfKind(w, s.Name, "wait")),
				Subject: rng.Ptr()})
		}
	}
	for _, e := range t.Expects {
		w, _, d := testStep(set, wf, "expect", e.Step, e.StepRange)
		diags = append(diags, d...)
		if w != nil && w != wf {
			diags = append(diags, childExpect(wf, e)...)
		}
	}
	return diags
}

// childExpect reports the output and skipped of an expect that names a step of a
// child run: a test checks the requests such a step sent, not its output, which no
// step of the test's workflow reads, nor whether it was skipped.
func childExpect(wf *Workflow, e *Expect) hcl.Diagnostics {
	own, label := "", e.Step
	if IsOnFailure(label) {
		own, label = OnFailurePrefix, strings.TrimPrefix(label, OnFailurePrefix)
	}
	parent, _, _ := cutChild(label, callsIn(wf, own))
	parent = own + parent
	var diags hcl.Diagnostics
	for _, name := range []string{"output", "skipped"} {
		rng, ok := e.Ranges[name]
		if !ok {
			continue
		}
		detail := fmt.Sprintf("%q is a step of a child run, and an expect of one checks the requests it sent: method, url, headers, json, body and count. "+
			"%s is for the steps of the test's own workflow: expect %q { output = { result = … } } checks the child's result.", e.Step, name, parent)
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("No %s in an expect of a child run's step", name),
			Detail: detail, Subject: rng.Ptr()})
	}
	return diags
}

// testedStep is the step a mock or resume block's label names, of the workflow or of
// a child it runs, with the workflow that holds it; nil, with testStep's diagnostics,
// when it names none.
func testedStep(set *Set, wf *Workflow, what, label string, rng hcl.Range) (*Workflow, *Step, hcl.Diagnostics) {
	w, name, diags := testStep(set, wf, what, label, rng)
	if w == nil {
		return nil, nil, diags
	}
	s, _ := w.Step(name)
	return w, s, diags
}

// nearStepOfKind is the end of a diagnostic about a block that names step name of wf,
// whose kind it cannot have: " Did you mean …?" with the nearest of wf's steps of
// those kinds, or "" when none is near.
func nearStepOfKind(wf *Workflow, name string, kinds ...string) string {
	var names []string
	for _, s := range append(append([]*Step{}, wf.Steps...), wf.OnFailure...) {
		if slices.Contains(kinds, s.Kind) {
			names = append(names, s.Name)
		}
	}
	if near := suggest(name, names); near != "" {
		return fmt.Sprintf(" Did you mean %q?", near)
	}
	return ""
}

// testStep resolves the label of a mock or an expect: STEP, an item STEP[KEY] of a
// for_each step, or a step of a child run, PARENT/STEP, PARENT being a workflow step
// of wf (and a/b/c for a grandchild's). It returns the workflow holding the step and
// the step's name, or nil with the diagnostics of a label that names none.
func testStep(set *Set, wf *Workflow, what, label string, rng hcl.Range) (*Workflow, string, hcl.Diagnostics) {
	var steps []string
	kinds := map[string]string{}
	forEach := map[string]bool{}
	for _, s := range append(append([]*Step{}, wf.Steps...), wf.OnFailure...) {
		steps = append(steps, s.Name)
		kinds[s.Name] = s.Kind
		forEach[s.Name] = s.ForEach != nil
	}
	unknown := func(step string) hcl.Diagnostics {
		detail := fmt.Sprintf("Workflow %q has no step %q; its steps are: %s.", wf.Name, step, strings.Join(steps, ", "))
		// A step of the on_failure block written by its own name is meant before a
		// step whose name is near.
		s := ""
		if !IsOnFailure(step) && slices.Contains(steps, OnFailurePrefix+step) {
			s = OnFailurePrefix + step
		}
		if s == "" {
			s = suggest(step, steps)
		}
		if s == "" && !IsOnFailure(step) {
			s = suggest(OnFailurePrefix+step, steps)
		}
		if s != "" {
			detail = fmt.Sprintf("Workflow %q has no step %q. Did you mean %q?", wf.Name, step, s)
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown step in %s", what), Detail: detail, Subject: rng.Ptr()}}
	}
	// A step of the on_failure block has a '/' in its name: on_failure/STEP.
	own, full := "", label
	if IsOnFailure(label) {
		own, label = OnFailurePrefix, strings.TrimPrefix(label, OnFailurePrefix)
	}
	if parent, rest, child := cutChild(label, callsIn(wf, own)); child {
		parent = own + parent
		s, _ := wf.Step(parent)
		if s == nil {
			if d := parallelOrItem(wf, what, full, parent, own+rest, rng); d != nil {
				return nil, "", hcl.Diagnostics{d}
			}
			return nil, "", unknown(parent)
		}
		sub, ok := s.Action.(SubRun)
		if !ok || set.Workflow(sub.Calls()) == nil {
			return nil, "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid child step in %s", what),
				Detail:  fmt.Sprintf("%q names a step of the child run of step %q, written STEP/CHILD_STEP, and step %q is a %s step: only a workflow step has a child run.", full, parent, parent, s.Kind),
				Subject: rng.Ptr()}}
		}
		return testStep(set, set.Workflow(sub.Calls()), what, rest, rng)
	}
	// An item of a for_each step is STEP[KEY]: its index, or its key in a map.
	name := own + label
	if step, rest, isItem := strings.Cut(label, "["); isItem {
		step = own + step
		_, known := kinds[step]
		switch {
		case known && !forEach[step]:
			return nil, "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid item in %s", what),
				Detail:  fmt.Sprintf("%q names an item of step %q, written STEP[KEY] (its index, or its key in a map), and only a step with for_each has items.", full, step),
				Subject: rng.Ptr()}}
		case known && !strings.HasSuffix(rest, "]"):
			detail := fmt.Sprintf("%q names an item of step %q, written STEP[KEY] (its index, or its key in a map), and does not end in ]", full, step)
			if strings.Contains(rest, "]") {
				detail += ": the key runs from the first [ to the last ], and nothing may follow it."
			} else {
				detail += fmt.Sprintf(". Did you mean %q?", full+"]")
			}
			return nil, "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unclosed item in %s", what), Detail: detail, Subject: rng.Ptr()}}
		}
		name = step
	}
	if _, ok := kinds[name]; !ok {
		return nil, "", unknown(name)
	}
	return wf, name, nil
}

// cutChild cuts a label PARENT/STEP at its first '/' outside an item's key. The key
// of STEP[KEY] is taken whole, as runs name a map's items (r[a/b], r[]): it runs
// from the first '[' to the label's last ']', so a key may hold '/', '[' and ']';
// but for a STEP that calls a workflow (calls says which), whose items have child
// runs, to the first ']' before a '/' when there is one: kids[1]/call[0] reads as
// item 1's child's item 0, which testStep refuses (a test names the steps of every
// item's child alike, kids/call[0]). child is false for a label that names no step of
// a child run.
func cutChild(label string, calls func(step string) bool) (parent, rest string, child bool) {
	from := 0
	if i := strings.IndexAny(label, "[/"); i >= 0 && label[i] == '[' {
		if j := strings.LastIndexByte(label, ']'); j > i {
			from = j
		}
		if calls(label[:i]) {
			if j := strings.Index(label[i:], "]/"); j >= 0 {
				from = i + j
			}
		}
	}
	i := strings.IndexByte(label[from:], '/')
	if i < 0 {
		return label, "", false
	}
	return label[:from+i], label[from+i+1:], true
}

// callsIn reports whether a step of wf, named as a label names it (own prefixing it
// for a step of the on_failure block), is a workflow step.
func callsIn(wf *Workflow, own string) func(string) bool {
	return func(step string) bool {
		s, _ := wf.Step(own + step)
		if s == nil {
			return false
		}
		_, ok := s.Action.(SubRun)
		return ok
	}
}

// parallelOrItem explains a label PARENT/STEP whose PARENT is no step of wf but names
// a parallel block, whose steps a test names by their own names (as later steps read
// them, though runs show them as BLOCK/STEP), or an item of a for_each workflow step,
// STEP[KEY], whose child's steps a test names as every item's: STEP/CHILD_STEP. nil
// when it names neither.
func parallelOrItem(wf *Workflow, what, label, parent, rest string, rng hcl.Range) *hcl.Diagnostic {
	var inBlock []string // the steps of the parallel block parent names
	for _, s := range slices.Concat(wf.Steps, wf.OnFailure) {
		if s.Parallel != "" && (parent == s.Parallel || parent == OnFailurePrefix+s.Parallel) {
			inBlock = append(inBlock, s.Name)
		}
	}
	if len(inBlock) > 0 {
		detail := fmt.Sprintf("Workflow %q has no step %q: it is a parallel block. A test names a step of a parallel block by its own name, as later steps read it, though runs show it as %s",
			wf.Name, parent, label)
		if slices.Contains(inBlock, rest) {
			detail += fmt.Sprintf(": %s %q.", what, rest)
		} else {
			detail += fmt.Sprintf("; the block's steps are: %s.", strings.Join(inBlock, ", "))
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown step in %s", what), Detail: detail, Subject: rng.Ptr()}
	}
	step, _, isItem := strings.Cut(parent, "[")
	if !isItem {
		return nil
	}
	s, _ := wf.Step(step)
	if s == nil || s.ForEach == nil {
		return nil
	}
	if _, ok := s.Action.(SubRun); !ok {
		return nil
	}
	all := step + "/" + strings.TrimPrefix(rest, OnFailurePrefix)
	detail := fmt.Sprintf("%q names a step of the child run of item %s. A test names the steps of every item's child alike, as %s.", label, parent, all)
	switch what {
	case "mock":
		detail += fmt.Sprintf(" Each child is answered from the mock's first response on. To give item %s another answer, mock the item itself: mock %q { json = {…} } is its child's result, and its child run does not start.", parent, parent)
	case "expect":
		detail += fmt.Sprintf(" expect %q counts the requests of every item's child; expect %q checks the item's output, its child's result.", all, parent)
	case "resume":
		detail += fmt.Sprintf(" resume %q resumes that wait in every item's child.", all)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid child step in %s", what), Detail: detail, Subject: rng.Ptr()}
}
