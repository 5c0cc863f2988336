package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// scope is what a run-time expression may read where it is written: which steps have
// run by then, and whether there is a for_each item. It turns a reference to a step
// that does not exist, or has not run yet, into a load-time error instead of a nil at
// run time.
type scope struct {
	where    string   // "the filter", `step "notify"`
	self     string   // the step the expression is in; "" outside a step
	steps    []string // the steps that run before this point; nil where no step has run
	all      []string // every step of the workflow, to tell "later" from "unknown"
	workflow string
	// parallel is the parallel block holding the step, and siblings its steps: they
	// start together, so none can read another.
	parallel  string
	siblings  []string
	parallels map[string][]string // every parallel block's steps, by the block's name
	eachOK    bool                // each may be read: in a step with for_each
	// outputs are the fields of each step's output, by step name, where its kind
	// tells them; reads of other fields are warned about.
	outputs map[string]*stepOutput
	forEach bool // the expression is a for_each, which gives the items
	// resumable are the steps of the workflow resume_url may name: its wait steps.
	resumable []string
	// reads are the names expressions here can start with; nil: a step's, stepReads.
	// steps and each have checks of their own (stepRef, eachRef), and vars is read
	// everywhere.
	reads []string
	// onFailure marks the steps of an on_failure block, whose run has error and
	// failed_step beside its other fields. failureSteps are the block's steps, which
	// cannot read each other.
	onFailure    bool
	failureSteps []string
	// headersAsSent: event.headers are as the request brought them, credentials
	// included (see TriggerKind.HeadersAsSent); elsewhere a credential header reads
	// [redacted].
	headersAsSent bool
}

// stepReads are the names a step's expressions read (each in a for_each step only).
var stepReads = []string{"event", "steps", "vars", "run", "each"}

// triggerReads are the names a trigger's templates and the filter read: they are
// evaluated for an event, before there is a run.
var triggerReads = []string{"event", "vars"}

// runFields are the fields of run, and onFailureRunFields those an on_failure step
// reads besides.
var (
	runFields          = []string{"id", "workflow", "version"}
	onFailureRunFields = []string{"error", "failed_step"}
)

// readable returns the names expressions here can start with.
func (sc *scope) readable() []string {
	if sc.reads == nil {
		return stepReads
	}
	return sc.reads
}

// readsText lists what expressions here can read, as a sentence does: "event and
// vars", "poll.cursor, poll.time and vars".
func (sc *scope) readsText() string {
	var names []string
	for _, n := range sc.readable() {
		switch n {
		case "each":
			continue // only in a for_each step, which eachRef explains
		case "poll":
			names = append(names, "poll.cursor", "poll.time")
		default:
			names = append(names, n)
		}
	}
	return andList(names)
}

// forEachScope is the scope of a step's for_each: what the step sees, except each.
func (sc *scope) forEachScope() *scope {
	c := *sc
	c.eachOK, c.forEach = false, true
	return &c
}

// checkRefs reports the steps.NAME references in a compiled expression that its scope
// cannot see, the reads of each where there is no item, and of vars that are not, and
// the constant arguments hookflow's functions do not take. src is the expression and
// offset its position in loc's value. What it says of an expression a secret was
// written into quotes none of it (location.hidingSecrets).
func checkRefs(p *vm.Program, src string, offset int, loc location) hcl.Diagnostics {
	return loc.hidingSecrets(refDiags(p, src, offset, loc), offset, offset+len(src))
}

// refDiags is checkRefs, before the secrets are hidden.
func refDiags(p *vm.Program, src string, offset int, loc location) hcl.Diagnostics {
	diags := append(checkVarRefs(p, src, offset, loc), checkArguments(p, src, offset, loc)...)
	sc := loc.scope
	if sc == nil {
		return diags
	}
	report := func(d *hcl.Diagnostic, at file.Location) {
		d.Subject = loc.at(offset+runeToByte(src, at.From), offset+runeToByte(src, at.To)).Ptr()
		diags = append(diags, d)
	}
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		if c, ok := n.(*ast.CallNode); ok {
			if d, at := sc.resumeRef(c); d != nil {
				report(d, at)
			}
			return
		}
		if id, ok := n.(*ast.IdentifierNode); ok && id.Value == "each" {
			if d := sc.eachRef(); d != nil {
				report(d, id.Location())
			}
			return
		}
		if id, ok := n.(*ast.IdentifierNode); ok {
			if d := sc.rootRef(id.Value); d != nil {
				report(loc.mistake(d), id.Location())
			}
			return
		}
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return
		}
		if field, ok := rootField(m, "each"); ok && sc.eachOK && !slices.Contains(eachFields, field) {
			report(loc.mistake(eachFieldRef(field)), m.Property.Location())
		}
		if field, ok := rootField(m, "run"); ok && slices.Contains(sc.readable(), "run") {
			if d := sc.runFieldRef(field); d != nil {
				report(loc.mistake(d), m.Property.Location())
			}
		}
		if name, ok := eventHeader(m); ok && !sc.headersAsSent && slices.Contains(sc.readable(), "event") {
			if d := redactedHeaderRef(name, sc.where); d != nil {
				report(d, m.Property.Location())
			}
		}
		if step, field, ok := stepField(m); ok && sc.stepRef(step) == nil {
			if d := sc.outputs[step].itemsRef(step, field); d != nil {
				report(d, m.Property.Location())
			} else if d := sc.outputs[step].fieldRef(step, field); d != nil {
				report(d, m.Property.Location())
			}
		}
		root, ok := m.Node.(*ast.IdentifierNode)
		if !ok || root.Value != "steps" {
			return
		}
		prop, ok := m.Property.(*ast.StringNode)
		if !ok {
			return // steps[some_expression]: only known at run time
		}
		if d := sc.stepRef(prop.Value); d != nil {
			report(d, m.Property.Location())
		}
	}))
	sc.outcomeRefs(src, report)
	sc.typedRefs(src, report)
	return diags
}

// resumeRef reports a call of resume_url that does not name a wait step of the
// workflow by a constant string, or that is not in a step, and where it is.
func (sc *scope) resumeRef(c *ast.CallNode) (*hcl.Diagnostic, file.Location) {
	callee, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != "resume_url" {
		return nil, file.Location{}
	}
	if sc.self == "" {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("resume_url in %s", sc.where),
			Detail:   "resume_url gives the URL that resumes a wait step of a run: it can be used in the steps of a workflow only.",
		}, callee.Location()
	}
	waits := "it has none"
	if len(sc.resumable) > 0 {
		waits = "its wait steps are " + andList(sc.resumable)
	}
	var name *ast.StringNode
	if len(c.Arguments) == 1 {
		name, _ = c.Arguments[0].(*ast.StringNode)
	}
	if name == nil {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "resume_url needs a step's name",
			Detail: fmt.Sprintf("resume_url takes the name of a wait step of workflow %q, written as a string: resume_url('approval'); %s.",
				sc.workflow, waits),
		}, callee.Location()
	}
	if slices.Contains(sc.resumable, name.Value) {
		return nil, file.Location{}
	}
	summary := fmt.Sprintf("resume_url names %q, which is not a wait step", name.Value)
	detail := fmt.Sprintf("resume_url(%q) gives the URL that resumes the wait step %q, but workflow %q has no wait step of that name; %s.",
		name.Value, name.Value, sc.workflow, waits)
	if !slices.Contains(sc.all, name.Value) {
		summary = fmt.Sprintf("resume_url names an unknown step %q", name.Value)
	}
	if s := suggestName(name.Value, sc.resumable); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}, name.Location()
}

// eachRef reports a read of each where there is no for_each item.
func (sc *scope) eachRef() *hcl.Diagnostic {
	switch {
	case sc.eachOK:
		return nil
	case sc.forEach:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "for_each reads each",
			Detail: "each is the current item of a for_each step, and for_each is what gives the items: it is evaluated once, " +
				"before there are any. It can read event, vars, run and the steps before this one.",
		}
	case sc.onFailure:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "each outside a for_each step",
			Detail: fmt.Sprintf("each is the current item of a for_each step; on_failure step %q has none, and for_each is not allowed in on_failure, "+
				"whose steps run once each. Read the list from event or steps and send it in one call instead: json = \"{{ event.body.items }}\".", sc.self),
		}
	case sc.self != "":
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "each outside a for_each step",
			Detail: fmt.Sprintf(`each is the current item of a for_each step; step %q has no for_each. `+
				`Add for_each = "event.body.items" to run it once per item, or read the value from event or steps.`, sc.self),
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "each outside a for_each step",
		Detail:   fmt.Sprintf("each is the current item of a for_each step, and %s is not in a step, so there is no item to read.", sc.where),
	}
}

func (sc *scope) stepRef(name string) *hcl.Diagnostic {
	if sc.steps == nil {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("No step has run in %s", sc.where),
			Detail:   fmt.Sprintf("steps.%s cannot be read in %s: it is evaluated before any step runs, so it can read %s only.", name, sc.where, sc.readsText()),
		}
	}
	if slices.Contains(sc.steps, name) {
		return nil
	}
	before := "none: this is the first step"
	if len(sc.steps) > 0 {
		before = strings.Join(sc.steps, ", ")
	}
	if sc.parallel != "" && len(sc.steps) == 0 {
		before = fmt.Sprintf("none: parallel %q runs first", sc.parallel)
	}
	block, isBlock := sc.parallels[name]
	switch {
	case name == sc.self:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Step %q reads its own output", name),
			Detail:   fmt.Sprintf("A step's output exists only after it has run. Steps before this one: %s.", before),
		}
	case isBlock:
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%q is a parallel block, not a step", name),
			Detail: fmt.Sprintf("A parallel block has no output of its own: read its steps by their own names, %s.",
				strings.Join(prefixed("steps.", block), ", ")),
		}
	case sc.parallel != "" && slices.Contains(sc.siblings, name):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Step %q reads %q, which runs beside it in parallel %q", sc.self, name, sc.parallel),
			Detail: fmt.Sprintf("The steps of a parallel block start together, so %q has no output yet when %q starts. "+
				"Read steps.%s in a step after parallel %q. Steps before this one: %s.", name, sc.self, name, sc.parallel, before),
		}
	case slices.Contains(sc.failureSteps, name):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("on_failure step %q reads on_failure step %q", sc.self, name),
			Detail: fmt.Sprintf("The steps of an on_failure block cannot read each other: they read the workflow's steps, and run.error and run.failed_step. "+
				"Steps of the workflow: %s.", before),
		}
	case slices.Contains(sc.all, name):
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Reference to a later step %q", name),
			Detail:   fmt.Sprintf("Steps run in file order, and %q runs after %s, so its output does not exist yet. Steps before this one: %s.", name, sc.where, before),
		}
	}
	detail := fmt.Sprintf("Workflow %q has no step named %q. Steps before this one: %s.", sc.workflow, name, before)
	if s := suggestName(name, sc.steps); s != "" {
		detail = fmt.Sprintf("Workflow %q has no step named %q. Did you mean %q?", sc.workflow, name, s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Reference to unknown step %q", name), Detail: detail}
}

// rootRef reports a read of a name that expressions here cannot read: event or run
// where there is no run yet (a poll's request, the filter), poll outside a poll's
// request. steps and each are left to stepRef and eachRef.
func (sc *scope) rootRef(name string) *hcl.Diagnostic {
	if !slices.Contains(roots, name) || name == "steps" || name == "each" || name == "vars" || slices.Contains(sc.readable(), name) {
		return nil
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError}
	switch name {
	case "event":
		d.Summary = fmt.Sprintf("No event in %s", sc.where)
		d.Detail = fmt.Sprintf("event is the event a run starts with, and %s is evaluated before there is one, so it can read %s only.",
			sc.where, sc.readsText())
	case "run":
		d.Summary = fmt.Sprintf("No run in %s", sc.where)
		d.Detail = fmt.Sprintf("run is the run under way, and %s is evaluated before a run starts, so it can read %s only.",
			sc.where, sc.readsText())
	case "poll":
		d.Summary = fmt.Sprintf("No poll in %s", sc.where)
		d.Detail = fmt.Sprintf("poll.cursor and poll.time are read by the request of a poll trigger only; %s can read %s. "+
			"A run started by a poll reads the poll's time as event.poll.time.", sc.where, sc.readsText())
	default:
		d.Summary = fmt.Sprintf("%s cannot be read in %s", name, sc.where)
		d.Detail = fmt.Sprintf("%s can read %s only.", sc.where, sc.readsText())
	}
	return d
}

// rootField reads NAME.FIELD (or NAME["FIELD"]) in a member node: run.id, each.value.
func rootField(m *ast.MemberNode, name string) (string, bool) {
	root, ok := m.Node.(*ast.IdentifierNode)
	field, named := m.Property.(*ast.StringNode)
	if !ok || !named || root.Value != name {
		return "", false
	}
	return field.Value, true
}

// eachFields are the fields of each, a for_each item.
var eachFields = []string{"key", "value"}

// eachFieldRef reports a read of a field that each does not have: a misspelling,
// which would fail the step at run time.
func eachFieldRef(field string) *hcl.Diagnostic {
	detail := fmt.Sprintf("each is the current item of the for_each step: each.value is the item and each.key its index or key, "+
		"so each.%s fails the step.", field)
	if s := suggest(field, eachFields); s != "" {
		detail += fmt.Sprintf(" Did you mean each.%s?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown field %q of each", field), Detail: detail}
}

// runFieldRef reports a read of a field that run does not have here: run.error and
// run.failed_step outside on_failure, a misspelling anywhere.
func (sc *scope) runFieldRef(field string) *hcl.Diagnostic {
	fields := runFields
	if sc.onFailure {
		fields = slices.Concat(runFields, onFailureRunFields)
	}
	if slices.Contains(fields, field) {
		return nil
	}
	if slices.Contains(onFailureRunFields, field) {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("run.%s outside on_failure", field),
			Detail: fmt.Sprintf("run.%s is set in the steps of an on_failure block, which run once the run has failed; "+
				"in %s, run has %s. Read it in a step of on_failure {}.", field, sc.where, andList(fields)),
		}
	}
	detail := fmt.Sprintf("run has %s", andList(fields))
	if !sc.onFailure {
		detail += " (and error and failed_step in on_failure steps)"
	}
	detail += fmt.Sprintf(", so run.%s is always nil.", field)
	if s := suggest(field, fields); s != "" {
		detail += fmt.Sprintf(" Did you mean run.%s?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown field %q of run", field), Detail: detail}
}

// stepField reads steps.NAME.FIELD (or steps.NAME["FIELD"]) in a member node.
func stepField(m *ast.MemberNode) (step, field string, ok bool) {
	f, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", "", false
	}
	inner, ok := m.Node.(*ast.MemberNode)
	if !ok {
		return "", "", false
	}
	root, ok := inner.Node.(*ast.IdentifierNode)
	name, named := inner.Property.(*ast.StringNode)
	if !ok || !named || root.Value != "steps" {
		return "", "", false
	}
	return name.Value, f.Value, true
}

// stepOutput is what a step's output holds, as its kind tells: the fields later
// steps read as steps.NAME.FIELD.
type stepOutput struct {
	kind   string
	fields []string // beside outcome and error, which every step has
	set    bool     // the fields are the step's own attributes (the set step)
	// forEach: the step has for_each, and its output is the list (or map) of its
	// items' outputs; fields is empty.
	forEach bool
	types   map[string]string // the kind's OutputTypes: of the step's, or each item's
}

// itemsRef warns of a read of outcome or error straight off a for_each step's output:
// each item has its own, and the list has none (a list has no fields, and a map's
// field would be an item whose key is "outcome"), so the read fails at run time or
// reads the wrong thing. A warning, not an error: the step has them when its for_each
// could not be listed and on_error = "continue" let the run go on, which is what
// such a read may mean. o may be nil: nothing is known.
func (o *stepOutput) itemsRef(step, field string) *hcl.Diagnostic {
	if o == nil || !o.forEach || field != "outcome" && field != "error" {
		return nil
	}
	read := fmt.Sprintf("all(steps.%s, .outcome == 'succeeded') is true when every item succeeded, any(steps.%s, .outcome == 'failed') when one failed", step, step)
	if field == "error" {
		read = fmt.Sprintf("any(steps.%s, .outcome == 'failed') is true when an item failed, and map(filter(steps.%s, .outcome == 'failed'), .error) lists their errors", step, step)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  fmt.Sprintf("steps.%s.%s of a for_each step", step, field),
		Detail: fmt.Sprintf("Step %q has for_each, so steps.%s is the list of its items' outputs (a map of them when for_each gives a map), "+
			"and each item has its own outcome and error: %s (write values(steps.%s) for a map), and steps.%s[0].%s is one item's. "+
			"steps.%s.%s is the step's own only when its for_each could not be listed and on_error = \"continue\" let the run go on.",
			step, step, read, step, step, field, step, field),
	}
}

// fieldRef warns about a read of a field the step's output never has: it is nil
// every time, which is never what was meant. o may be nil: nothing is known; nor is
// anything of a for_each step's, a list or a map of items.
func (o *stepOutput) fieldRef(step, field string) *hcl.Diagnostic {
	if o == nil || o.forEach || field == "outcome" || field == "error" || slices.Contains(o.fields, field) {
		return nil
	}
	has := fmt.Sprintf("%s %s step's output has %s", article(o.kind), o.kind, andList(o.fields))
	if o.set {
		has = fmt.Sprintf("A set step's output has the values it names, here %s", andList(o.fields))
	}
	detail := fmt.Sprintf("%s, and every step's has outcome and error, so steps.%s.%s is always nil.", has, step, field)
	switch {
	case field == "status":
		detail += fmt.Sprintf(" A step's status (succeeded, skipped or failed) is steps.%s.outcome; status is only ever an HTTP status code. Did you mean steps.%s.outcome?", step, step)
	case suggest(field, o.fields) != "":
		detail += fmt.Sprintf(" Did you mean steps.%s.%s?", step, suggest(field, o.fields))
	case slices.Contains(o.fields, "body"):
		detail += fmt.Sprintf(" Did you mean steps.%s.body.%s?", step, field)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  fmt.Sprintf("Step %q has no output field %q", step, field),
		Detail:   detail,
	}
}

// article is "A" or "An", as a sentence starts before a kind's name: an http step,
// a set step.
func article(word string) string {
	if strings.HasPrefix(word, "http") || word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// andList joins names as a sentence does: "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }
