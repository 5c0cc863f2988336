package workflows

import (
	"regexp"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Options change how Load treats what the files ask of the environment, and which
// of them it checks.
type Options struct {
	// AllowUnset lets env() without a default and secret() read variables that are
	// not set. Each becomes a placeholder that passes every check of the place where
	// it is used, and Set.Unset lists them. It is for checking files where their
	// secrets are not (validate in CI), and for running one workflow of a directory
	// whose other workflows need what is not set: Set.Missing says what one workflow
	// needs. A Set loaded so must not serve.
	AllowUnset bool
	// File, when not empty, is the name of the one source whose workflows are decoded
	// and checked, as validate checks a file with its directory. The other sources
	// give their vars and api blocks (the files that have some are read whole, and
	// their problems reported), and the names of their workflows, for workflow steps
	// to call; their workflows are not decoded, and the other files' problems are not
	// reported.
	File string
	// Hermetic makes env() and secret() read nothing from the environment: env() reads
	// its default, and an env() without one or a secret() reads as a placeholder, as
	// with AllowUnset. It is for hookflow test, whose tests then pass or fail alike in
	// every shell: a URL built from env("CRM_URL", "https://crm.example.com") is the
	// default's, whatever CRM_URL holds where the tests run.
	Hermetic bool
	// Stored marks the files as a workflow version stored in Redis, loaded to go on
	// with the runs that started on it. The build that started them accepted the files,
	// and a newer build may check more: the checks that catch a likely mistake, rather
	// than what cannot run, warn instead of failing the load (see mistake), so that an
	// upgrade does not fail the runs in flight. What cannot run still fails. The
	// files are the workflow's own and those with vars: a workflow step may call one
	// they do not declare.
	Stored bool
	// InUse is the set in use when the files are loaded again (a reload): of two
	// workflows of one name, the one written where InUse has it is kept, and the
	// other, just added, is the one reported as the duplicate. Without it, the later
	// one in file order is.
	InUse *Set
	// Dir is the directory the sources were read from, which a test naming a workflow
	// that is not there names as where its workflow was looked for; "" when they were
	// not read from one.
	Dir string
}

// Unset is a variable that env() without a default or secret() read, and that is not
// set (a secret set to "" counts as not set).
type Unset struct {
	Name   string
	Secret bool      // read with secret(); else with env()
	Range  hcl.Range // its first use
	// Workflows are the workflows that need it, sorted: those that read it, and those
	// that refer to a var that reads it.
	Workflows []string
}

// Unset lists the variables that were not set, sorted by name, when the Set was loaded
// with Options.AllowUnset.
func (s *Set) Unset() []Unset { return s.unset }

// Missing returns the errors a load without Options.AllowUnset reports for what a run
// of the named workflow needs and is not set: the env() and secret() its filter, steps
// and on_failure read, and those of the vars and api blocks they refer to. What only
// its triggers read (the secrets that verify a webhook, a poll's request) is not
// counted: a run reads none of it; TriggerMissing has it. It is empty when a run has
// all it needs.
func (s *Set) Missing(workflow string) hcl.Diagnostics { return s.missing[reader{workflow, -1}] }

// TriggerMissing is Missing for the workflow's trigger at index i of its Triggers:
// what the trigger reads, and the vars and api blocks it refers to.
func (s *Set) TriggerMissing(workflow string, i int) hcl.Diagnostics {
	return s.missing[reader{workflow, i}]
}

// reader is what of a workflow reads a variable: a run of it, or one of its triggers.
type reader struct {
	workflow string
	trigger  int // the trigger's index in the workflow's Triggers; -1 for a run
}

// placeholderMark marks a value that stands for a variable that is not set. Marks
// travel with the value through ${} interpolation and vars.
const placeholderMark = "placeholder"

// placeholderValue is what an unset variable reads as: an https URL, longer than any
// credential must be, so that it also reads as valid where no check is excused.
func placeholderValue(name string) string { return "https://unset.invalid/" + name }

// unsetLog records the variables env() and secret() find not set, and who reads them.
type unsetLog struct {
	allow    bool
	at       hcl.Range      // the expression being evaluated
	expr     hcl.Expression // and the expression itself
	varName  string         // the var being decoded, if any
	api      string         // the api block being decoded, if any
	workflow string         // the workflow being decoded, if any
	trigger  int            // the index of the trigger of it being decoded; -1: none
	// eventRanges are the attributes of the trigger being decoded that a run's event is
	// made of: what they read, a run of the workflow needs too.
	eventRanges []hcl.Range
	byName      map[string]*unsetUses
}

// unsetUses is one variable that is not set, and where it is read.
type unsetUses struct {
	err       *unsetError
	first     hcl.Range
	vars      map[string]hcl.Range // the vars that read it, and where
	apis      map[string]hcl.Range // the api blocks that need it, and where first
	workflows map[reader]hcl.Range // the parts of workflows that need it, and where first
}

func newUnsetLog(allow bool) *unsetLog {
	return &unsetLog{allow: allow, trigger: -1, byName: map[string]*unsetUses{}}
}

// reading is the part of a workflow being decoded.
func (l *unsetLog) reading() reader { return reader{l.workflow, l.trigger} }

// placeholder returns what env() or secret() reads for a variable that is not set:
// the error u, or with Options.AllowUnset a placeholder, recording who reads it.
func (l *unsetLog) placeholder(u *unsetError) (cty.Value, error) {
	if !l.allow {
		return cty.NilVal, u
	}
	at := l.callAt(u)
	uses := l.byName[u.name]
	if uses == nil {
		uses = &unsetUses{err: u, first: at, vars: map[string]hcl.Range{}, apis: map[string]hcl.Range{},
			workflows: map[reader]hcl.Range{}}
		l.byName[u.name] = uses
	}
	uses.err.secret = uses.err.secret || u.secret
	switch {
	case l.workflow != "":
		if _, seen := uses.workflows[l.reading()]; !seen {
			uses.workflows[l.reading()] = at
		}
		run := reader{l.workflow, -1}
		if _, seen := uses.workflows[run]; !seen && l.trigger >= 0 && slices.ContainsFunc(l.eventRanges, func(r hcl.Range) bool {
			return r.Filename == at.Filename && r.Start.Byte <= at.Start.Byte && at.End.Byte <= r.End.Byte
		}) {
			uses.workflows[run] = at
		}
	case l.api != "":
		if _, seen := uses.apis[l.api]; !seen {
			uses.apis[l.api] = at
		}
	case l.varName != "":
		if _, seen := uses.vars[l.varName]; !seen {
			uses.vars[l.varName] = at
		}
	}
	return cty.StringVal(placeholderValue(u.name)).Mark(placeholderMark), nil
}

// callAt returns where the expression being evaluated calls env() or secret() for u,
// as a load without Options.AllowUnset reports it: the function's name and its
// opening parenthesis. It returns the whole expression when no such call is found.
func (l *unsetLog) callAt(u *unsetError) hcl.Range {
	at := l.at
	fn := "env"
	if u.secret {
		fn = "secret"
	}
	x, ok := l.expr.(hclsyntax.Node)
	if !ok {
		return at
	}
	found := false
	hclsyntax.VisitAll(x, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if found || !ok || call.Name != fn || len(call.Args) == 0 {
			return nil
		}
		if v, d := call.Args[0].Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() == u.name {
			at, found = hcl.RangeBetween(call.NameRange, call.OpenParenRange), true
		}
		return nil
	})
	return at
}

var (
	varRefRE   = regexp.MustCompile(`\bvars\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)`)
	varIndexRE = regexp.MustCompile(`\bvars\s*\[`)
)

// refersToVars records that a part of a workflow, whose source is src, needs what the
// vars it names read: as vars.NAME when the file loads, or in a {{ }} template when
// it runs. vars["…"] counts as naming every var.
func (l *unsetLog) refersToVars(p reader, src []byte) {
	varsNamedIn(l, src, func(uses *unsetUses) map[reader]hcl.Range { return uses.workflows }, p)
}

// apiRefersToVars records that an api block, whose source is src, needs what the vars
// it names read (refersToVars); the workflows whose steps call it need them then.
func (l *unsetLog) apiRefersToVars(api string, src []byte) {
	varsNamedIn(l, src, func(uses *unsetUses) map[string]hcl.Range { return uses.apis }, api)
}

// varsNamedIn records who, in the map of each variable's uses that into gives, as
// needing what the vars that src names read.
func varsNamedIn[K comparable](l *unsetLog, src []byte, into func(*unsetUses) map[K]hcl.Range, who K) {
	if len(l.byName) == 0 {
		return
	}
	all := varIndexRE.Match(src)
	named := map[string]bool{}
	for _, m := range varRefRE.FindAllSubmatch(src, -1) {
		named[string(m[1])] = true
	}
	for _, uses := range l.byName {
		need := into(uses)
		for v, at := range uses.vars {
			if _, seen := need[who]; !seen && (all || named[v]) {
				need[who] = at
			}
		}
	}
}

// callsAPI records that the part of a workflow being decoded calls an api block, and
// so needs what the api block needs: its credentials, base URL and headers.
func (l *unsetLog) callsAPI(api string) {
	if l.workflow == "" {
		return
	}
	for _, uses := range l.byName {
		if at, ok := uses.apis[api]; ok {
			if _, seen := uses.workflows[l.reading()]; !seen {
				uses.workflows[l.reading()] = at
			}
		}
	}
}

// fill gives set the variables that were not set, and the errors each of its
// workflows would get for those it needs.
func (l *unsetLog) fill(set *Set) {
	set.missing = map[reader]hcl.Diagnostics{}
	for name, uses := range l.byName {
		u := Unset{Name: name, Secret: uses.err.secret, Range: uses.first}
		for p, at := range uses.workflows {
			if set.byName[p.workflow] == nil {
				continue
			}
			if !slices.Contains(u.Workflows, p.workflow) {
				u.Workflows = append(u.Workflows, p.workflow)
			}
			set.missing[p] = append(set.missing[p], &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: uses.err.summary(), Detail: uses.err.detail(), Subject: at.Ptr(),
			})
		}
		slices.Sort(u.Workflows)
		set.unset = append(set.unset, u)
	}
	sort.Slice(set.unset, func(i, j int) bool { return set.unset[i].Name < set.unset[j].Name })
	for _, diags := range set.missing {
		sort.SliceStable(diags, func(i, j int) bool { return before(diags[i].Subject, diags[j].Subject) })
	}
}

// excuse drops the errors that checks report on a value holding a placeholder: a
// placeholder stands for whatever the variable will hold, so it passes every check of
// the place where it is used. Errors in expressions and templates are kept.
func (l *loader) excuse(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(l.placeholders) == 0 || !diags.HasErrors() {
		return diags
	}
	out := diags[:0:0]
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && l.inPlaceholder(*d.Subject) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// inPlaceholder reports whether r lies within a value that holds a placeholder.
func (l *loader) inPlaceholder(r hcl.Range) bool {
	for _, p := range l.placeholders {
		if p.Filename == r.Filename && p.Start.Byte <= r.Start.Byte && r.End.Byte <= p.End.Byte {
			return true
		}
	}
	return false
}
