package workflows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var workflowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "filter"},
		{Name: "concurrency"},
		{Name: "timeout"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "trigger", LabelNames: []string{"kind"}},
		{Type: "step", LabelNames: []string{"kind", "name"}},
		{Type: "parallel", LabelNames: []string{"name"}},
		{Type: "on_failure"},
	},
}

// stepCommon is what every step kind accepts, whatever its own schema.
var stepCommon = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "if"}, {Name: "for_each"}, {Name: "max_parallel"}, {Name: "timeout"}, {Name: "on_error"}, {Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retry"}},
}

var retryAttrs = []Attr{{Name: "attempts", Required: true}, {Name: "backoff"}, {Name: "initial"}, {Name: "max"}}

// Names are used in expressions (steps.NAME, event.params.NAME), so they are
// identifiers.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidName reports whether s can name a workflow, a step or a path parameter.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// workflow decodes a workflow block. It returns the workflow even when it reports
// errors, with the triggers and steps that decoded, so that the checks across
// workflows (duplicate names, webhooks sharing a path, calls) still see it.
func (l *loader) workflow(b *hcl.Block, ev *evaluator) (*Workflow, hcl.Diagnostics) {
	// The credentials its steps write out are the workflow's own: they join its
	// secrets, not the set's (see HideCredentialFields).
	wf := &Workflow{Name: b.Labels[0], DefRange: b.DefRange, Vars: l.vars, Secrets: &Redactor{}}
	l.credentials = map[string]bool{}
	l.ownSecrets = append(l.ownSecrets, ownSecrets{wf.Secrets, l.credentials})
	defer func() { l.credentials = l.secretValues }()
	l.values = nil // the load-time values of this workflow's attributes, for its version
	diags := checkName("workflow", wf.Name, b.LabelRanges[0])
	content, d := b.Body.Content(workflowSchema)
	diags = append(diags, d...)

	// Every expression is checked against the steps it can see, so lay the steps out
	// first: a reference to a later step is told apart from one to no step at all, and
	// one to a step beside it in a parallel block from one to an earlier step.
	lay := layOut(content.Blocks)
	lay.outputs, lay.resumable = l.outputs(lay), l.resumable(lay)
	attrs := &Block{attrs: map[string]*BlockAttr{}}
	for _, name := range []string{"description", "concurrency", "timeout"} {
		if a := content.Attributes[name]; a != nil {
			d := l.attr(attrs, a, ev, &scope{where: "this attribute"})
			diags = append(diags, d...)
		}
	}
	wf.Description, d = attrs.ConstString("description", "")
	diags = append(diags, l.excuse(d)...)
	wf.Concurrency, d = attrs.Int("concurrency", 0, 1, MaxConcurrency)
	diags = append(diags, l.excuse(d)...)
	wf.Timeout, d = attrs.Duration("timeout", 0)
	diags = append(diags, l.excuse(d)...)
	if a := content.Attributes["filter"]; a != nil {
		wf.Filter, d = l.condition(a, ev, &scope{where: "the filter", reads: triggerReads})
		diags = append(diags, d...)
	}

	// Scopes and duplicates go by the steps as written, whether or not each decoded,
	// so that one broken step does not make the next look wrong too.
	var onFailure *hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "on_failure":
			steps, d := l.onFailure(blk, onFailure, lay, ev, wf.Name)
			diags = append(diags, d...)
			if onFailure == nil {
				onFailure, wf.OnFailure = blk, steps
			}
		case "trigger":
			l.unset.trigger = len(wf.Triggers)
			t, d := l.trigger(blk, ev)
			l.unset.trigger = -1
			diags = append(diags, l.triggerMistakes(d)...)
			if t != nil {
				t.Workflow = wf.Name
				wf.Triggers = append(wf.Triggers, t)
			}
		case "step", "parallel":
			diags = append(diags, lay.diags[blk]...)
			n := lay.nodes[blk]
			if n == nil {
				continue // a duplicate, reported by layOut
			}
			node, d := l.node(n, lay, ev, wf.Name)
			diags = append(diags, d...)
			wf.Nodes = append(wf.Nodes, node)
			wf.Steps = append(wf.Steps, node.Steps...)
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, answerTimeWarnings(wf)...)
		sensitiveCopies(wf)
		l.versions = append(l.versions, pendingVersion{wf: wf, tokens: canonical(l.files, b), values: l.values})
	}
	return wf, diags
}

// outputs tells, for each step whose kind lists its output's fields, what they are.
// A for_each step's output is the list (or map) of its items' outputs: it is marked
// so, with no fields.
func (l *loader) outputs(lay *layout) map[string]*stepOutput {
	out := map[string]*stepOutput{}
	for _, n := range lay.nodes {
		for _, blk := range n.steps {
			kind, ok := l.kinds.steps[blk.Labels[0]]
			body, syntax := blk.Body.(*hclsyntax.Body)
			if !ok || !syntax {
				continue
			}
			switch {
			case body.Attributes["for_each"] != nil:
				out[blk.Labels[1]] = &stepOutput{kind: kind.Name, forEach: true, types: kind.OutputTypes}
			case kind.AnyAttrs:
				o := &stepOutput{kind: kind.Name, set: true}
				for name := range body.Attributes {
					if !slices.ContainsFunc(stepCommon.Attributes, func(a hcl.AttributeSchema) bool { return a.Name == name }) {
						o.fields = append(o.fields, name)
					}
				}
				sort.Strings(o.fields)
				out[blk.Labels[1]] = o
			case kind.Output != nil:
				fields := kind.Output
				if slices.ContainsFunc(body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "paginate" }) {
					fields = slices.Concat(fields, pagedOutput)
				}
				out[blk.Labels[1]] = &stepOutput{kind: kind.Name, fields: fields, types: kind.OutputTypes}
			}
		}
	}
	return out
}

// resumable lists the steps, in file order, whose kind resume_url may name.
func (l *loader) resumable(lay *layout) []string {
	var out []string
	for _, n := range lay.nodes {
		for _, blk := range n.steps {
			if kind, ok := l.kinds.steps[blk.Labels[0]]; ok && kind.Resumable {
				out = append(out, blk.Labels[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

// pendingVersion is what a workflow's version hashes. It is computed once every
// workflow has decoded, when every secret is known and can be left out.
type pendingVersion struct {
	wf     *Workflow
	tokens []byte
	values []any
}

// version hashes a workflow's canonical source and shared, the canonical source of the
// vars and api blocks (sharedSrc), and the vars and the values its attributes had when
// the file loaded, so that a changed env() or file() value makes a new version.
// Secrets are redacted first: rotating one keeps the version, and no version is
// derived from a secret.
func (l *loader) version(p pendingVersion, shared []byte) string {
	h := sha256.New()
	h.Write(p.tokens)
	h.Write(shared)
	values, _ := json.Marshal([]any{l.secrets.Value(l.vars), l.secrets.Value(p.values)})
	h.Write(values)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sharedSrc is the canonical source of the vars and api blocks, which every version
// hashes: the vars blocks, then the api blocks, each sorted by their source, so that
// neither the names of the files that hold them, nor their order, nor where in them a
// block is written makes a version. older is what builds before "workflows: a version
// hashes the vars and api blocks whatever files hold them" hashed, the blocks in the
// order of their files, where it differs: nil when it does not.
func (l *loader) sharedSrc() (shared, older []byte) {
	inFiles := slices.Concat(l.varsSrc, l.apiSrc)
	sorted := slices.Concat(sortedSrc(l.varsSrc), sortedSrc(l.apiSrc))
	shared = bytes.Join(sorted, nil)
	if !slices.EqualFunc(inFiles, sorted, bytes.Equal) {
		older = bytes.Join(inFiles, nil)
	}
	return shared, older
}

// sortedSrc is a sorted copy of blocks' canonical sources.
func sortedSrc(blocks [][]byte) [][]byte {
	out := slices.Clone(blocks)
	slices.SortFunc(out, bytes.Compare)
	return out
}

func (l *loader) trigger(b *hcl.Block, ev *evaluator) (*Trigger, hcl.Diagnostics) {
	name := b.Labels[0]
	kind, ok := l.kinds.triggers[name]
	if !ok {
		return nil, hcl.Diagnostics{unknownKind("trigger", name, l.kinds.triggerNames(), b.LabelRanges[0])}
	}
	schema := kindSchema(nil, kind.Attrs)
	for _, bt := range kind.Blocks {
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: bt.Type, LabelNames: bt.Labels})
	}
	content, diags := b.Body.Content(schema)
	diags = dropMissingSuggested(diags)
	sayWhatItTakes(diags, kind)
	decodeDiags := diags
	sc := &scope{where: "a trigger", reads: triggerReads}
	if kind.Reads != nil {
		sc.reads = kind.Reads
	}
	if kind.Where != "" {
		sc.where = kind.Where
	}
	sc.headersAsSent = kind.HeadersAsSent
	l.unset.eventRanges = nil
	for _, a := range kind.EventAttrs {
		if attr := content.Attributes[a]; attr != nil {
			l.unset.eventRanges = append(l.unset.eventRanges, attr.Expr.Range())
		}
	}
	blk, d := l.block(name, "", b.DefRange, content, ev, sc)
	l.unset.eventRanges = nil
	diags = append(diags, d...)
	blk.api, d = l.apiRef(blk) // a poll trigger calls an api
	diags = append(diags, d...)
	if !l.apiKnown(blk, d) {
		return nil, diags
	}
	standIns := l.standIn(blk, kind.Attrs, decodeDiags) // see standin.go
	cfg, d := kind.New(blk)
	if cfg != nil {
		d = l.excuse(d)
	}
	diags = append(diags, standIns.drop(d)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Trigger{Kind: name, Config: cfg, DefRange: b.DefRange}, diags
}

func (l *loader) step(b *hcl.Block, ev *evaluator, sc *scope) (*Step, hcl.Diagnostics) {
	kindName, name := b.Labels[0], b.Labels[1]
	diags := checkName("step", name, b.LabelRanges[1])
	kind, ok := l.kinds.steps[kindName]
	if !ok {
		return nil, append(diags, unknownKind("step", kindName, l.kinds.stepNames(), b.LabelRanges[0]))
	}
	var content *hcl.BodyContent
	var d hcl.Diagnostics
	if kind.AnyAttrs {
		content, d = anyAttrs(b.Body)
	} else {
		schema := kindSchema(stepCommon, kind.Attrs)
		for _, bt := range kind.Blocks {
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: bt.Type, LabelNames: bt.Labels})
		}
		content, d = b.Body.Content(schema)
		d = dropMissingSuggested(d)
	}
	diags = append(diags, d...)
	decodeDiags := d

	s := &Step{Kind: kindName, Name: name, Timeout: DefaultStepTimeout, MaxParallel: DefaultMaxParallel,
		Parallel: sc.parallel, DefRange: b.DefRange}
	// Everything in a step with for_each runs once per item, and can read it; its
	// for_each cannot, as it gives the items. An if, too, is evaluated per item.
	forEach := content.Attributes["for_each"]
	sc.eachOK = forEach != nil
	common := &Block{attrs: map[string]*BlockAttr{}}
	for _, c := range stepCommon.Attributes {
		a := content.Attributes[c.Name]
		delete(content.Attributes, c.Name)
		switch {
		case a == nil:
		case c.Name == "if":
			s.If, d = l.condition(a, ev, sc)
			diags = append(diags, d...)
		case c.Name == "for_each":
			s.ForEach, d = l.forEach(a, kindName, ev, sc.forEachScope())
			diags = append(diags, d...)
		default:
			diags = append(diags, l.attr(common, a, ev, sc)...)
		}
	}
	timeout := DefaultStepTimeout
	if kind.Timeout > 0 {
		timeout = kind.Timeout
	}
	s.Timeout, d = common.Duration("timeout", timeout)
	s.timeoutWritten = common.Attr("timeout") != nil
	diags = append(diags, l.excuse(d)...)
	if a := common.Attr("timeout"); a != nil && kind.NoTimeout != "" {
		diags = append(diags, mistake(a.Error(fmt.Sprintf("No timeout on a %s step", kindName),
			kind.NoTimeout+" Remove the timeout."), l.stored))
	}
	if a := common.Attr("timeout"); a != nil && !d.HasErrors() && kind.MaxTimeout > 0 && s.Timeout > kind.MaxTimeout {
		diags = append(diags, a.Error("Timeout too long",
			fmt.Sprintf("A %s step's timeout may be %dd at most.", kindName, int(kind.MaxTimeout.Hours()/24))))
	}
	if forEach != nil && kind.Resumable {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("No for_each on a %s step", kindName),
			Detail: fmt.Sprintf("A %s step pauses its run once, and resume_url(%q) resumes it: it cannot run once per item. "+
				"Wait once, for an answer about the whole list.", kindName, name),
			Subject: forEach.Expr.Range().Ptr()})
	}
	onError, d := common.OneOf("on_error", "fail", "fail", "continue")
	diags = append(diags, l.excuse(d)...)
	if onError == "continue" {
		s.OnError = Continue
	}
	s.MaxParallel, d = maxParallel(common, name, forEach != nil)
	diags = append(diags, l.excuse(d)...)
	s.Sensitive, d = common.Bool("sensitive", false)
	diags = append(diags, l.excuse(d)...)
	var own []*hcl.Block // the kind's nested blocks
	for _, r := range content.Blocks {
		if r.Type != "retry" {
			own = append(own, r)
			continue
		}
		if kind.NoRetry != "" {
			d := mistake(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("No retry on a %s step", kindName),
				Detail: kind.NoRetry + " Remove the retry block.", Subject: r.TypeRange.Ptr()}, l.stored)
			diags = append(diags, d)
			if d.Severity == hcl.DiagError {
				continue
			}
			// A stored version keeps the block, as the build that accepted it did.
		}
		s.Retry, d = l.retry(r, ev, &scope{where: "retry", self: name, eachOK: sc.eachOK, onFailure: sc.onFailure})
		diags = append(diags, d...)
	}
	content.Blocks = own

	blk, d := l.block(kindName, name, b.DefRange, content, ev, sc)
	diags = append(diags, d...)
	if forEach != nil {
		diags = append(diags, sameKeyEachItem(blk, name)...)
	}
	if kind.AnyAttrs {
		for _, attr := range blk.Names() {
			a := blk.attrs[attr]
			s.carries = append(s.carries, a.Template.stepsRead()...)
			if a.secret || a.Template.holds(l.secretValues) {
				diags = append(diags, a.Warning("A set step's value holds a secret",
					fmt.Sprintf("Step %q records its value %s with the secret [redacted], and that is what later steps read as steps.%s.%s: "+
						"write secret() where the value is sent, in the step that sends it", name, attr, name, attr)))
			}
		}
	}
	blk.api, d = l.apiRef(blk)
	diags = append(diags, d...)
	if !l.apiKnown(blk, d) {
		return nil, diags
	}
	if a := blk.api; a != nil {
		// What the step sets wins over its api's defaults.
		if a.Timeout > 0 && common.Attr("timeout") == nil {
			s.Timeout, s.timeoutWritten = a.Timeout, true
		}
		if s.Retry == nil {
			s.Retry = a.Retry
		}
	}
	attrs := kind.Attrs
	if kind.AnyAttrs {
		// Every attribute is the kind's own: one that failed stands in for the value it
		// names, so that a set step whose only value failed is not also "set has no values".
		attrs = nil
		for _, a := range blk.failed {
			attrs = append(attrs, Attr{Name: a.Name})
		}
	}
	standIns := l.standIn(blk, attrs, decodeDiags) // see standin.go
	s.Action, d = kind.New(blk)
	if s.Action != nil {
		d = l.excuse(d)
	}
	diags = append(diags, standIns.drop(d)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

// anyAttrs decodes a body whose kind accepts any attribute: the common ones, and
// everything else as the kind's.
func anyAttrs(body hcl.Body) (*hcl.BodyContent, hcl.Diagnostics) {
	content, _, diags := body.PartialContent(stepCommon)
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return content, diags
	}
	for name, a := range sb.Attributes {
		if _, common := content.Attributes[name]; !common {
			content.Attributes[name] = a.AsHCLAttribute()
		}
	}
	for _, blk := range sb.Blocks {
		if blk.Type != "retry" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unexpected %q block", blk.Type),
				Detail: "Only retry {} blocks go in this step; its values are attributes: name = value.", Subject: blk.TypeRange.Ptr()})
		}
	}
	return content, diags
}

// retry decodes a retry block. Its values are fixed when the file loads; sc is there
// so that a {{ }} in one gets the same messages as anywhere else.
func (l *loader) retry(b *hcl.Block, ev *evaluator, sc *scope) (*Retry, hcl.Diagnostics) {
	content, diags := b.Body.Content(kindSchema(nil, retryAttrs))
	blk, d := l.block("retry", "", b.DefRange, content, ev, sc)
	diags = append(diags, d...)
	// The values that decoded are checked beside the errors of the others (an unknown
	// argument, a value that failed): those are not in blk, and read as their defaults.
	r := &Retry{}
	var checks hcl.Diagnostics
	r.Attempts, d = blk.Int("attempts", 1, 1, 100)
	checks = append(checks, l.excuse(d)...)
	backoff, d := blk.OneOf("backoff", "exponential", "exponential", "constant")
	checks = append(checks, l.excuse(d)...)
	r.Exponential = backoff == "exponential"
	r.Initial, d = blk.Duration("initial", time.Second)
	checks = append(checks, l.excuse(d)...)
	r.Max, d = blk.Duration("max", DefaultRetryMax)
	checks = append(checks, l.excuse(d)...)
	if a := blk.Attr("max"); a != nil && len(blk.failed) == 0 && !checks.HasErrors() && r.Max < r.Initial {
		checks = append(checks, a.Error("max is shorter than initial", fmt.Sprintf("The longest wait (%s) cannot be shorter than the first (%s).", FormatDuration(r.Max), FormatDuration(r.Initial))))
	}
	diags = append(diags, checks...)
	if diags.HasErrors() {
		return nil, diags
	}
	return r, diags
}

// kindSchema is the schema of a trigger or step block: the attributes every block of
// its type has plus the kind's own. Decoding both with one Content call lets HCL
// suggest the right name for a misspelling of either. HCL suggests the first name
// close enough to a misspelling, so the kind's own come first: they are what most
// attributes of a block are.
func kindSchema(common *hcl.BodySchema, own []Attr) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range own {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	if common != nil {
		s.Attributes = append(s.Attributes, common.Attributes...)
		s.Blocks = append(s.Blocks, common.Blocks...)
	}
	return s
}

// dropMissingSuggested removes "Missing required argument" errors for an argument
// that another error already suggests as the fix for a misspelling: `ur = "…"` should
// say "Did you mean url?", not also "url is required".
func dropMissingSuggested(diags hcl.Diagnostics) hcl.Diagnostics {
	suggested := map[string]bool{}
	for _, d := range diags {
		if i := strings.Index(d.Detail, "Did you mean "); d.Summary == "Unsupported argument" && i >= 0 {
			suggested[strings.TrimSuffix(d.Detail[i+len("Did you mean "):], "?")] = true
		}
	}
	if len(suggested) == 0 {
		return diags
	}
	out := diags[:0:0]
	for _, d := range diags {
		if d.Summary == "Missing required argument" {
			if name, _, ok := strings.Cut(strings.TrimPrefix(d.Detail, "The argument "), " is required"); ok && suggested[name] {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// sayWhatItTakes adds to each argument of a trigger that its kind does not take, and
// that HCL finds no likely misspelling for (form in a poll), what the kind takes.
func sayWhatItTakes(diags hcl.Diagnostics, kind TriggerKind) {
	var names []string
	for _, a := range kind.Attrs {
		names = append(names, a.Name)
	}
	for _, bt := range kind.Blocks {
		names = append(names, bt.Type+" {}")
	}
	for _, d := range diags {
		if d.Summary == "Unsupported argument" && !strings.Contains(d.Detail, "Did you mean") {
			d.Detail += fmt.Sprintf(" A trigger %q takes %s.", kind.Name, strings.Join(names, ", "))
		}
	}
}

// block evaluates a kind's attributes at load time and compiles their templates.
func (l *loader) block(kind, name string, def hcl.Range, content *hcl.BodyContent, ev *evaluator, sc *scope) (*Block, hcl.Diagnostics) {
	blk := &Block{Kind: kind, Name: name, DefRange: def, attrs: map[string]*BlockAttr{}, nested: content.Blocks, stored: l.stored,
		secrets: l.credentials}
	blk.decode = func(raw *hcl.Block, attrs []Attr) (*Block, hcl.Diagnostics) {
		c, diags := raw.Body.Content(kindSchema(nil, attrs))
		diags = dropMissingSuggested(diags)
		label := ""
		if len(raw.Labels) > 0 {
			label = raw.Labels[0]
		}
		nb, d := l.block(label, "", raw.DefRange, c, ev, sc)
		return nb, append(diags, d...)
	}
	var diags hcl.Diagnostics
	for _, a := range sortedAttrs(content.Attributes) {
		d := l.attr(blk, a, ev, sc)
		diags = append(diags, d...)
		if d.HasErrors() {
			blk.failed = append(blk.failed, a)
		}
	}
	return blk, diags
}

// attr evaluates one attribute at load time, compiles its templates and adds it to blk.
func (l *loader) attr(blk *Block, a *hcl.Attribute, ev *evaluator, sc *scope) hcl.Diagnostics {
	v, marks, diags := ev.markedValue(a.Expr)
	if diags.HasErrors() {
		return diags
	}
	if marks.placeholder {
		l.placeholders = append(l.placeholders, a.Expr.Range())
	}
	l.values = append(l.values, a.Name, v)
	loc := l.loc(a)
	loc.scope = sc
	t, d := compileTemplate(v, loc)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	blk.attrs[a.Name] = &BlockAttr{Name: a.Name, Template: t, Range: a.Range, ValueRange: a.Expr.Range(), loc: loc,
		expr: a.Expr, literalVars: l.literalVars, vars: l.vars, secret: marks.secret}
	return diags
}

func (l *loader) loc(a *hcl.Attribute) location {
	loc := location{rng: a.Expr.Range(), exprs: l.exprs, vars: l.varNames, stored: l.stored, secrets: l.secretValues}
	if f := l.files[a.Range.Filename]; f != nil {
		loc.src = f.Bytes
	}
	return loc
}

func (l *loader) condition(a *hcl.Attribute, ev *evaluator, sc *scope) (*Condition, hcl.Diagnostics) {
	src, loc, diags := l.exprSource(a, ev, sc, fmt.Sprintf(`Conditions are evaluated when an event arrives, so write them in quotes: %s = "event.body.amount > 100".`, a.Name),
		`A condition is an expression in quotes, such as "event.body.amount > 100".`)
	if diags.HasErrors() {
		return nil, diags
	}
	return compileCondition(src, loc)
}

// exprSource reads an attribute that holds bare expr source in a string, such as a
// condition. unquoted and notString are the details of the two usual slips: the
// expression written without quotes, and a value that is not a string.
func (l *loader) exprSource(a *hcl.Attribute, ev *evaluator, sc *scope, unquoted, notString string) (string, location, hcl.Diagnostics) {
	if d := checkLoadTimeRefs(a.Expr); d.HasErrors() {
		// The most common slip: filter = event.body.x > 1, without the quotes.
		for _, diag := range d {
			diag.Summary = fmt.Sprintf("%s must be an expression in a string", a.Name)
			diag.Detail = unquoted
			diag.Subject = a.Expr.Range().Ptr()
		}
		return "", location{}, d[:1]
	}
	v, diags := ev.value(a.Expr)
	if diags.HasErrors() {
		return "", location{}, diags
	}
	src, ok := v.(string)
	if !ok {
		return "", location{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s must be a string", a.Name),
			Detail:   fmt.Sprintf("Got %s. %s", typeName(v), notString),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	l.values = append(l.values, a.Name, src)
	loc := l.loc(a)
	loc.value, loc.scope = src, sc
	return src, loc, nil
}

func checkName(what, name string, rng hcl.Range) hcl.Diagnostics {
	if ValidName(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name %q", what, name),
		Detail:   "A name starts with a letter or underscore and holds only ASCII letters, digits and underscores, so that expressions can refer to it (steps.find_customer).",
		Subject:  rng.Ptr(),
	}}
}

func unknownKind(what, name string, known []string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("There is no %s kind %q. The %s kinds are: %s.", what, name, what, strings.Join(known, ", "))
	if s := suggest(name, known); s != "" {
		detail = fmt.Sprintf("There is no %s kind %q. Did you mean %q?", what, name, s)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Unknown %s kind %q", what, name),
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

// suggestName is suggest over the names of workflows, steps or apis: one that is not a
// valid name (ValidName) is an error of its own, and is never offered.
func suggestName(name string, known []string) string {
	return suggest(name, slices.DeleteFunc(slices.Clone(known), func(k string) bool { return !ValidName(k) }))
}

// suggest returns the known name closest to name, if any is close enough to be a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := levenshtein.Distance(name, k, nil); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case int, float64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// canonical returns a block's tokens in a form that formatting does not change, for
// versions: spaces, alignment, blank lines and comments are left out (a line comment
// counts as the newline that ends it), so only a change of meaning changes a version.
func canonical(files map[string]*hcl.File, b *hcl.Block) []byte {
	f := files[b.DefRange.Filename]
	body, ok := b.Body.(*hclsyntax.Body)
	if f == nil || !ok {
		return nil
	}
	tokens, _ := hclsyntax.LexConfig(f.Bytes[b.DefRange.Start.Byte:body.SrcRange.End.Byte], "", hcl.InitialPos)
	var out []byte
	newline := false
	for _, t := range tokens {
		switch {
		case t.Type == hclsyntax.TokenEOF:
			continue
		case t.Type == hclsyntax.TokenNewline || (t.Type == hclsyntax.TokenComment && bytes.HasSuffix(t.Bytes, []byte("\n"))):
			if !newline {
				out = append(out, '\n')
			}
			newline = true
			continue
		case t.Type == hclsyntax.TokenComment:
			continue
		}
		newline = false
		out = fmt.Appendf(out, "%d:%d:", t.Type, len(t.Bytes))
		out = append(out, t.Bytes...)
	}
	return out
}

// sameKeyEachItem warns of a for_each step whose idempotency_key is the same for every
// item: an API that honours the key would do the first item's work and answer the
// rest with it.
func sameKeyEachItem(blk *Block, step string) hcl.Diagnostics {
	a := blk.Attr("idempotency_key")
	if a == nil || a.Template.reads("each") {
		return nil
	}
	if v, ok := a.Template.Const(); ok && v == "" {
		return nil // no key sent
	}
	return hcl.Diagnostics{a.Warning("Every item sends the same Idempotency-Key",
		fmt.Sprintf("Step %q runs once per item of its for_each, and its idempotency_key does not read each, "+
			"so an API that honours the key does the first item's work and answers the others with it. "+
			`Add {{ each.key }} to the key, as the default does (<run id>:%s:<each.key>), or set "" to send none`, step, step))}
}

// sensitiveCopies makes sensitive a step that copies into its output a value of a
// sensitive step (set { token = "{{ steps.login.token }}" }). Its output is recorded,
// like any step's, with those values hidden, so later steps would read [redacted] and
// send it on; recorded as a sensitive step's, it keeps them for the later steps of its
// run and shows [sensitive].
func sensitiveCopies(wf *Workflow) {
	sensitive := map[string]bool{}
	for _, s := range slices.Concat(wf.Steps, wf.OnFailure) {
		if !s.Sensitive && slices.ContainsFunc(s.carries, func(n string) bool { return sensitive[n] }) {
			s.Sensitive = true
		}
		if s.Sensitive {
			sensitive[s.Name] = true
		}
	}
}
