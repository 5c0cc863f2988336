package workflows

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Source is one workflow file: its name (a path, used in diagnostics) and content.
type Source struct {
	Name string
	Data []byte
}

// lf returns a file's content with each CR LF line ending made LF, as every load,
// test load and diagnostic reads it: a file saved with CR LF line endings is the
// same file as one saved with LF ones. Its heredocs hold LF line endings (what steps
// send is not changed by where the file was edited) and its workflows the same
// versions. A carriage return asked for with an escape, "\r", is not a line ending
// and stays. Lines and columns are unchanged (a CR LF is one character, like a LF);
// byte offsets are those of the content returned, which is data itself when it has
// no CR LF.
func lf(data []byte) []byte {
	if !bytes.Contains(data, []byte("\r\n")) {
		return data
	}
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "vars"},
		{Type: "api", LabelNames: []string{"name"}},
		{Type: "workflow", LabelNames: []string{"name"}},
	},
}

// ReadDir reads every *.hcl file under dir, recursively, in lexical order. Entries whose
// name starts with "." are skipped: editors' swap files, .git, Kubernetes' ..data. So
// are files of tests (*.test.hcl): they are not workflows.
func ReadDir(dir string) ([]Source, hcl.Diagnostics) {
	return readTree(dir, func(name string) bool { return filepath.Ext(name) == ".hcl" && !IsTestFile(name) }, true)
}

// readTree reads the files under dir whose name passes keep. With linked, a symbolic
// link to a directory, which it does not follow, is a warning. A file that cannot be
// read, or that ReadFile refuses (a named pipe, a device, one past MaxFileSize), is an
// error at the file; the others are read all the same.
func readTree(dir string, keep func(name string) bool, linked bool) ([]Source, hcl.Diagnostics) {
	var srcs []Source
	var diags hcl.Diagnostics
	root := dir
	if info, err := os.Lstat(dir); err == nil && info.Mode()&os.ModeSymlink != 0 {
		root = dir + string(filepath.Separator) // a link to the directory: walk what it points to
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && path != root
		if linked && !hidden && d.Type()&fs.ModeSymlink != 0 {
			if info, err := os.Stat(path); err == nil && info.IsDir() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
					Summary: "Linked directory not read",
					Detail: fmt.Sprintf("%s is a symbolic link to a directory, which hookflow does not follow: its workflows are not loaded. "+
						"Link its files one by one, or make the workflow directory itself the link.", path)})
				return nil
			}
		}
		switch {
		case d.IsDir() && hidden:
			return filepath.SkipDir
		case d.IsDir() || hidden || !keep(d.Name()):
			return nil
		}
		data, err := ReadFile(path)
		if err != nil {
			diags = append(diags, readDiagnostic(path, err)) // and the other files are read all the same
			return nil
		}
		srcs = append(srcs, Source{Name: path, Data: data})
		return nil
	})
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read workflow directory",
			Detail:   err.Error(),
		}}
	}
	return srcs, diags
}

// Load parses, decodes and validates workflow files into a Set. It reports every
// problem in every file, not just the first; the Set is nil when there are errors.
// Loading happens in phases: parse each file and check its top-level blocks; evaluate
// vars; then decode each workflow, each trigger and step with its kind's schema.
func Load(srcs []Source, kinds *Kinds) (*Set, hcl.Diagnostics) {
	return LoadWith(srcs, kinds, Options{})
}

// LoadWith is Load with options.
func LoadWith(srcs []Source, kinds *Kinds, opts Options) (*Set, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var bodies []*hcl.BodyContent
	var names []string
	var varsSrcs []Source // the files with vars or api blocks: every workflow depends on them
	byName := map[string]Source{}
	elsewhere := map[string]hcl.Range{} // with opts.File: the workflows of the other files
	for _, src := range srcs {
		src.Data = lf(src.Data)
		f, d := parser.ParseHCL(src.Data, src.Name)
		if opts.File != "" && src.Name != opts.File && !besideFile(f, d, elsewhere) {
			continue // only its workflows' names matter
		}
		parsed := !d.HasErrors()
		d = syntaxDiags(d, src.Data, src.Name, false)
		if parsed {
			// HCL took it: only a byte that is not UTF-8 where HCL reads any (a
			// comment) fails it, which a stored version an older build loaded warns of.
			for _, x := range d {
				mistake(x, opts.Stored)
			}
		}
		diags = append(diags, d...)
		if d.HasErrors() {
			continue // a file that does not parse would only add noise below
		}
		content, d := f.Body.Content(rootSchema)
		misplacedBlocks(d, f.Body, src.Name)
		diags = append(diags, d...)
		if len(content.Blocks) == 0 && !d.HasErrors() {
			diags = append(diags, noBlocks(src.Name))
		}
		bodies = append(bodies, content)
		names = append(names, src.Name)
		byName[src.Name] = src
		for _, b := range content.Blocks {
			if b.Type == "vars" || b.Type == "api" {
				varsSrcs = append(varsSrcs, src)
				break
			}
		}
	}

	l := &loader{kinds: kinds, files: parser.Files(), secretValues: map[string]bool{}, exprs: newExprCompiler(),
		unset: newUnsetLog(opts.AllowUnset || opts.Hermetic), env: newEnviron(opts.Hermetic), stored: opts.Stored}
	l.credentials = l.secretValues // an api block's, shared by the workflows that call it
	ev, d := l.decodeVars(bodies)
	diags = append(diags, d...)
	diags = append(diags, l.decodeAPIs(bodies, names, ev)...)
	// secret() records values as workflows decode; the redactor they share is filled in
	// once all are decoded.
	l.secrets = &Redactor{}

	set := &Set{byName: map[string]*Workflow{}, apis: l.apis, dir: opts.Dir}
	declared := map[string]bool{} // every workflow written, whether or not it decoded
	repeats := repeatedWorkflows(bodies, names, opts.InUse, func(file string) bool { return opts.File == "" || file == opts.File })
	for i, content := range bodies {
		fileEv := ev.forFile(names[i])
		for _, b := range content.Blocks {
			if b.Type != "workflow" || opts.File != "" && names[i] != opts.File {
				continue
			}
			declared[b.Labels[0]] = true
			if first, ok := elsewhere[b.Labels[0]]; ok {
				diags = append(diags, duplicateDiag("workflow", b.Labels[0], b.LabelRanges[0], first))
				continue
			}
			l.unset.workflow = b.Labels[0]
			wf, d := l.workflow(b, fileEv)
			l.unset.workflow = ""
			diags = append(diags, d...)
			if kept, dup := repeats[b]; dup {
				diags = append(diags, duplicateDiag("workflow", wf.Name, b.LabelRanges[0], kept))
				continue
			}
			l.refersToVars(wf.Name, b)
			wf.Sources = sourcesOf(byName[names[i]], varsSrcs)
			set.byName[wf.Name] = wf
			set.workflows = append(set.workflows, wf)
		}
	}
	for name := range elsewhere {
		declared[name] = true
	}
	diags = append(diags, l.triggerMistakes(l.checkTriggers(set))...)
	diags = append(diags, checkCalls(set, declared, opts.Stored)...)
	l.fillSecrets()
	l.secrets.Diagnostics(diags)
	HideWrittenCredentials(l.files, diags) // for those rendered other than by WriteDiagnostics (JSON)
	if diags.HasErrors() {
		return nil, diags
	}
	shared, older := l.sharedSrc()
	for _, p := range l.versions {
		p.wf.Version = l.version(p, shared)
		if opts.Stored && older != nil {
			p.wf.OlderVersion = l.version(p, older)
		}
	}
	l.unset.fill(set)
	set.env = l.env.values()
	sort.Slice(set.workflows, func(i, j int) bool { return set.workflows[i].Name < set.workflows[j].Name })
	return set, diags
}

// noBlocks warns of a file with no block: empty, or only comments. It may be meant
// (a file kept for later), or a file emptied by mistake, or cut short by a copy: the
// workflows it held are gone then, which nothing else would say.
func noBlocks(name string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No blocks in file",
		Detail: fmt.Sprintf("%s is empty, or holds only comments: it defines no workflow, vars or api. "+
			"If it held workflows, they are gone. Remove the file if that is meant.", name),
		Subject: &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}}
}

// besideFile notes in elsewhere the workflows of a file beside Options.File, parsed
// as f with diagnostics d, and reports whether it is read whole: whether it has vars or
// api blocks, which every workflow of its directory may use (even when it does not
// parse whole).
func besideFile(f *hcl.File, d hcl.Diagnostics, elsewhere map[string]hcl.Range) bool {
	if f == nil {
		return false
	}
	if !d.HasErrors() {
		content, _ := f.Body.Content(rootSchema)
		for _, b := range content.Blocks {
			if b.Type == "workflow" {
				elsewhere[b.Labels[0]] = b.DefRange
			}
		}
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return false
	}
	for _, b := range body.Blocks {
		if b.Type == "vars" || b.Type == "api" {
			return true
		}
	}
	return false
}

// refersToVars records what the vars a workflow's block names read as needed by what
// names them: a run of the workflow, or one of its triggers.
func (l *loader) refersToVars(workflow string, b *hcl.Block) {
	run, triggers := workflowParts(l.files, b, l.kinds)
	l.unset.refersToVars(reader{workflow, -1}, run)
	for i, src := range triggers {
		l.unset.refersToVars(reader{workflow, i}, src)
	}
}

// sourcesOf lists the files a workflow is built from: its own and those with vars.
func sourcesOf(own Source, varsSrcs []Source) []Source {
	out := []Source{own}
	for _, s := range varsSrcs {
		if s.Name != own.Name {
			out = append(out, s)
		}
	}
	return out
}

// checkTriggers gives each trigger kind every trigger of its kind at once.
func (l *loader) checkTriggers(set *Set) hcl.Diagnostics {
	byKind := map[string][]*Trigger{}
	for _, wf := range set.workflows {
		for _, t := range wf.Triggers {
			byKind[t.Kind] = append(byKind[t.Kind], t)
		}
	}
	var diags hcl.Diagnostics
	for _, name := range l.kinds.triggerNames() {
		if check := l.kinds.triggers[name].Check; check != nil && len(byKind[name]) > 0 {
			diags = append(diags, check(byKind[name])...)
		}
	}
	return diags
}

// loader holds what decoding every workflow shares.
type loader struct {
	kinds        *Kinds
	files        map[string]*hcl.File
	vars         map[string]any  // the vars, as run-time values
	varsSrc      [][]byte        // the vars blocks' canonical sources, in file order: part of every version
	apiSrc       [][]byte        // the api blocks' canonical sources, in file order: part of every version
	secretValues map[string]bool // every value secret() read
	secrets      *Redactor       // the set's, and every workflow's own: they hide diagnostics
	credentials  map[string]bool // where a block's credentials go (Block.secrets)
	ownSecrets   []ownSecrets    // every workflow decoded, with the credentials it writes out
	exprs        *exprCompiler
	values       []any            // the workflow being decoded: its attributes' load-time values
	versions     []pendingVersion // every workflow decoded, to version once all are
	unset        *unsetLog        // the variables env() and secret() found not set
	env          *environ         // where env() and secret() read
	placeholders []hcl.Range      // the values that hold a placeholder for one
	apis         map[string]*API  // every api block, by name
	literalVars  map[string]bool  // the vars whose values are written out in the files
	varNames     []string         // every var defined, sorted, those whose value failed too
	stored       bool             // Options.Stored: checks of likely mistakes warn
}

// ownSecrets are a workflow's secrets and the credentials its steps write out, which
// join the set's secrets in it alone.
type ownSecrets struct {
	secrets     *Redactor
	credentials map[string]bool
}

// fillSecrets fills in, once every workflow is decoded, the redactors: each
// workflow's hides every value secret() read and the credentials of the api blocks
// (anywhere in the set: a secret read once may be written anywhere), and the
// credentials its own steps write out; the load's hides all of them in diagnostics.
func (l *loader) fillSecrets() {
	all := maps.Clone(l.secretValues)
	for _, o := range l.ownSecrets {
		own := maps.Clone(l.secretValues)
		maps.Copy(own, o.credentials)
		maps.Copy(all, o.credentials)
		*o.secrets = *newRedactor(own)
	}
	*l.secrets = *newRedactor(all)
}

// decodeVars evaluates every vars block into the load-time evaluator. A var cannot refer to
// another var: the order of files would then matter.
func (l *loader) decodeVars(bodies []*hcl.BodyContent) (*evaluator, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	base := newEvaluator(map[string]cty.Value{}, l.secretValues, l.unset, l.env)
	values := map[string]cty.Value{}
	l.vars = map[string]any{}
	l.literalVars = map[string]bool{}
	defined := map[string]hcl.Range{}
	for _, content := range bodies {
		for _, b := range content.Blocks {
			if b.Type != "vars" {
				continue
			}
			l.varsSrc = append(l.varsSrc, canonical(l.files, b))
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			for _, a := range sortedAttrs(attrs) {
				if first, dup := defined[a.Name]; dup {
					diags = append(diags, duplicateDiag("variable", a.Name, a.NameRange, first))
					continue
				}
				defined[a.Name] = a.NameRange
				v, gv, d := l.varValue(base, a)
				diags = append(diags, d...)
				if d.HasErrors() {
					// The var is defined: its uses read a placeholder, so that its error
					// is reported once, where its value failed, and not again as an
					// unknown var, or a bad value, at every use.
					values[a.Name] = cty.StringVal(placeholderValue(a.Name)).Mark(placeholderMark)
					continue
				}
				values[a.Name] = v
				l.vars[a.Name] = gv
				l.literalVars[a.Name] = writtenOut(a.Expr, nil)
			}
		}
	}
	l.varNames = sortedKeys(defined)
	return newEvaluator(values, l.secretValues, l.unset, l.env), diags
}

// varValue evaluates one var of a vars block, as a load-time value and a Go value.
// The two differ in what env(), secret() and file() read: "${vars.x}" puts the
// load-time value in a text compiled as a template, where that text must stay text,
// so it is made literal; run-time expressions read the Go value, which is the text
// as it was read.
func (l *loader) varValue(base *evaluator, a *hcl.Attribute) (cty.Value, any, hcl.Diagnostics) {
	if d := varsSelfRefs(a); d != nil {
		return cty.NilVal, nil, hcl.Diagnostics{d}
	}
	l.unset.varName = a.Name
	defer func() { l.unset.varName = "" }()
	v, diags := base.forFile(a.Range.Filename).eval(a.Expr)
	if diags.HasErrors() {
		return cty.NilVal, nil, diags
	}
	exact, d := base.exact().forFile(a.Range.Filename).eval(a.Expr)
	if d.HasErrors() { // what read it once reads it again: not expected
		return cty.NilVal, nil, d
	}
	gv, err := goValue(exact)
	if err != nil {
		return cty.NilVal, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported value",
			Detail: err.Error(), Subject: a.Expr.Range().Ptr()})
	}
	return v, gv, diags
}

func varsSelfRefs(a *hcl.Attribute) *hcl.Diagnostic {
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() == "vars" {
			return &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "A var cannot refer to another var",
				Detail:   fmt.Sprintf("Write the value of %q out in full, or build it where it is used.", a.Name),
				Subject:  tr.SourceRange().Ptr(),
			}
		}
	}
	return nil
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

// duplicateDiag reports a second what of one name: at is where it is named, its label,
// and first where the first one is defined.
func duplicateDiag(what, name string, at, first hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", what, name),
		Detail:   fmt.Sprintf("%s %s named %q is already defined at %s. Names must be unique.", article(what), what, name, where(first)),
		Subject:  at.Ptr(),
	}
}

// blockSource returns a block's text as written.
func blockSource(files map[string]*hcl.File, b *hcl.Block) []byte {
	f := files[b.DefRange.Filename]
	body, ok := b.Body.(*hclsyntax.Body)
	if f == nil || !ok {
		return nil
	}
	return f.Bytes[b.DefRange.Start.Byte:body.SrcRange.End.Byte]
}

// workflowParts returns the text of a workflow block as written, split into what a
// run of it reads (the block without its triggers, but for the attributes its event is
// made of: TriggerKind.EventAttrs) and each of its triggers.
func workflowParts(files map[string]*hcl.File, b *hcl.Block, kinds *Kinds) (run []byte, triggers [][]byte) {
	src := blockSource(files, b)
	run = bytes.Clone(src)
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return run, nil
	}
	start := b.DefRange.Start.Byte
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			run[i] = ' '
		}
	}
	for _, t := range body.Blocks {
		from, to := t.TypeRange.Start.Byte-start, t.Body.SrcRange.End.Byte-start
		if t.Type != "trigger" || from < 0 || to > len(run) {
			continue
		}
		triggers = append(triggers, src[from:to])
		var event []hcl.Range // kept, in order
		if len(t.Labels) > 0 {
			for _, name := range kinds.triggers[t.Labels[0]].EventAttrs {
				if a := t.Body.Attributes[name]; a != nil {
					event = append(event, a.SrcRange)
				}
			}
		}
		slices.SortFunc(event, func(x, y hcl.Range) int { return x.Start.Byte - y.Start.Byte })
		for _, r := range event {
			blank(from, r.Start.Byte-start)
			from = r.End.Byte - start
		}
		blank(from, to)
	}
	return run, triggers
}

// where formats a range's start as file:line:col.
func where(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
