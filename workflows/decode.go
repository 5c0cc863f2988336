package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

var workflowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "filter"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "trigger", LabelNames: []string{"kind"}},
		{Type: "step", LabelNames: []string{"kind", "name"}},
	},
}

// stepCommon are the attributes every step kind accepts, whatever its own schema.
var stepCommon = []hcl.AttributeSchema{
	{Name: "if"},
	{Name: "timeout"},
	{Name: "on_error"},
}

// Names are used in expressions (steps.NAME, event.params.NAME), so they are
// identifiers.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidName reports whether s can name a workflow, a step or a path parameter.
func ValidName(s string) bool { return nameRE.MatchString(s) }

func (l *loader) workflow(b *hcl.Block, ev *evaluator) (*Workflow, hcl.Diagnostics) {
	wf := &Workflow{Name: b.Labels[0], DefRange: b.DefRange, Vars: l.vars}
	diags := checkName("workflow", wf.Name, b.LabelRanges[0])
	content, d := b.Body.Content(workflowSchema)
	diags = append(diags, d...)

	if a := content.Attributes["description"]; a != nil {
		s, d := l.stringAttr(a, ev)
		diags = append(diags, d...)
		wf.Description = s
	}
	if a := content.Attributes["filter"]; a != nil {
		c, d := l.condition(a, ev)
		diags = append(diags, d...)
		wf.Filter = c
	}
	steps := map[string]*Step{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "trigger":
			t, d := l.trigger(blk, ev)
			diags = append(diags, d...)
			if t != nil {
				wf.Triggers = append(wf.Triggers, t)
			}
		case "step":
			s, d := l.step(blk, ev)
			diags = append(diags, d...)
			if s == nil {
				continue
			}
			if first, dup := steps[s.Name]; dup {
				diags = append(diags, duplicateDiag("step", s.Name, blk.LabelRanges[1], first.DefRange))
				continue
			}
			steps[s.Name] = s
			wf.Steps = append(wf.Steps, s)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	sum := sha256.Sum256(append(canonical(l.files, b), l.varsSrc...))
	wf.Version = hex.EncodeToString(sum[:8])
	return wf, diags
}

func (l *loader) trigger(b *hcl.Block, ev *evaluator) (*Trigger, hcl.Diagnostics) {
	name := b.Labels[0]
	kind, ok := l.kinds.triggers[name]
	if !ok {
		return nil, hcl.Diagnostics{unknownKind("trigger", name, l.kinds.triggerNames(), b.LabelRanges[0])}
	}
	content, diags := b.Body.Content(kindSchema(nil, kind.Attrs))
	diags = dropMissingSuggested(diags)
	blk, d := l.block(name, "", b, content, ev)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg, d := kind.New(blk)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Trigger{Kind: name, Config: cfg, DefRange: b.DefRange}, diags
}

func (l *loader) step(b *hcl.Block, ev *evaluator) (*Step, hcl.Diagnostics) {
	kindName, name := b.Labels[0], b.Labels[1]
	diags := checkName("step", name, b.LabelRanges[1])
	kind, ok := l.kinds.steps[kindName]
	if !ok {
		return nil, append(diags, unknownKind("step", kindName, l.kinds.stepNames(), b.LabelRanges[0]))
	}
	content, d := b.Body.Content(kindSchema(stepCommon, kind.Attrs))
	diags = append(diags, dropMissingSuggested(d)...)
	s := &Step{Kind: kindName, Name: name, Timeout: DefaultStepTimeout, DefRange: b.DefRange}
	if a := content.Attributes["if"]; a != nil {
		s.If, d = l.condition(a, ev)
		diags = append(diags, d...)
	}
	if a := content.Attributes["timeout"]; a != nil {
		s.Timeout, d = l.duration(a, ev)
		diags = append(diags, d...)
	}
	if a := content.Attributes["on_error"]; a != nil {
		s.OnError, d = l.onError(a, ev)
		diags = append(diags, d...)
	}
	for _, c := range stepCommon {
		delete(content.Attributes, c.Name)
	}
	blk, d := l.block(kindName, name, b, content, ev)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	s.Action, d = kind.New(blk)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

// kindSchema is the schema of a trigger or step block: the attributes every block of
// its type has plus the kind's own. Decoding both with one Content call lets HCL
// suggest the right name for a misspelling of either.
// HCL suggests the first name close enough to a misspelling, so the kind's own come
// first: they are what most attributes of a block are.
func kindSchema(common []hcl.AttributeSchema, own []Attr) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range own {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	s.Attributes = append(s.Attributes, common...)
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

// block evaluates a kind's attributes at load time and compiles their templates.
func (l *loader) block(kind, name string, b *hcl.Block, content *hcl.BodyContent, ev *evaluator) (*Block, hcl.Diagnostics) {
	blk := &Block{Kind: kind, Name: name, DefRange: b.DefRange, attrs: map[string]*BlockAttr{}}
	var diags hcl.Diagnostics
	for _, a := range sortedAttrs(content.Attributes) {
		v, d := ev.value(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		t, d := compileTemplate(v, l.loc(a))
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		blk.attrs[a.Name] = &BlockAttr{Name: a.Name, Template: t, Range: a.Range, ValueRange: a.Expr.Range()}
	}
	return blk, diags
}

func (l *loader) loc(a *hcl.Attribute) location {
	loc := location{rng: a.Expr.Range()}
	if f := l.files[a.Range.Filename]; f != nil {
		loc.src = f.Bytes
	}
	return loc
}

// stringAttr evaluates an attribute that must be a string fixed at load time.
func (l *loader) stringAttr(a *hcl.Attribute, ev *evaluator) (string, hcl.Diagnostics) {
	v, diags := ev.value(a.Expr)
	if diags.HasErrors() {
		return "", diags
	}
	s, ok := v.(string)
	if !ok {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s must be a string", a.Name),
			Detail:   fmt.Sprintf("Got %s. Put the value in double quotes.", typeName(v)),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	return s, nil
}

func (l *loader) condition(a *hcl.Attribute, ev *evaluator) (*Condition, hcl.Diagnostics) {
	if d := checkLoadTimeRefs(a.Expr); d.HasErrors() {
		// The most common slip: filter = event.body.x > 1, without the quotes.
		for _, diag := range d {
			diag.Summary = fmt.Sprintf("%s must be an expression in a string", a.Name)
			diag.Detail = fmt.Sprintf(`Conditions are evaluated when an event arrives, so write them in quotes: %s = "event.body.amount > 100".`, a.Name)
			diag.Subject = a.Expr.Range().Ptr()
		}
		return nil, d[:1]
	}
	src, diags := l.stringAttr(a, ev)
	if diags.HasErrors() {
		return nil, diags
	}
	loc := l.loc(a)
	loc.value = src
	return compileCondition(src, loc)
}

func (l *loader) duration(a *hcl.Attribute, ev *evaluator) (time.Duration, hcl.Diagnostics) {
	s, diags := l.stringAttr(a, ev)
	if diags.HasErrors() {
		return 0, diags
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid duration %q", s),
			Detail:   `Write a positive number with a unit: "500ms", "30s", "5m" or "1h".`,
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	return d, nil
}

func (l *loader) onError(a *hcl.Attribute, ev *evaluator) (OnError, hcl.Diagnostics) {
	s, diags := l.stringAttr(a, ev)
	if diags.HasErrors() {
		return FailRun, diags
	}
	switch s {
	case "fail":
		return FailRun, nil
	case "continue":
		return Continue, nil
	}
	return FailRun, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid on_error %q", s),
		Detail:   `on_error is "fail" (the default: the run stops and fails) or "continue" (the run goes on with the next step).`,
		Subject:  a.Expr.Range().Ptr(),
	}}
}

func checkName(what, name string, rng hcl.Range) hcl.Diagnostics {
	if ValidName(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name %q", what, name),
		Detail:   "A name starts with a letter or underscore and holds only letters, digits and underscores, so that expressions can refer to it (steps.find_customer).",
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

// suggest returns the known name closest to name, if any is close enough to be a typo.
func suggest(name string, known []string) string {
	for _, k := range known {
		if levenshtein.Distance(name, k, nil) < 3 {
			return k
		}
	}
	return ""
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

// canonical returns a block's source in canonical formatting, so that re-indenting a
// file or changing its comments' spacing does not change the versions in it.
func canonical(files map[string]*hcl.File, b *hcl.Block) []byte {
	f := files[b.DefRange.Filename]
	body, ok := b.Body.(*hclsyntax.Body)
	if f == nil || !ok {
		return nil
	}
	src := f.Bytes[b.DefRange.Start.Byte:body.SrcRange.End.Byte]
	return hclwrite.Format(src)
}
