package workflows

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// TestSuffix ends the name of a file of workflow tests. Such files sit beside the
// workflows they test; ReadDir leaves them out, ReadTests reads them.
const TestSuffix = ".test.hcl"

// IsTestFile reports whether name is a file of workflow tests.
func IsTestFile(name string) bool { return strings.HasSuffix(name, TestSuffix) }

// Test is one test block: an event given to a workflow, the answers its http steps
// get, and what the run must have done.
type Test struct {
	Name     string
	Workflow string
	Event    TestEvent
	Mocks    map[string]*Mock // by step name
	// Resumes are what resumes the test's wait steps, by step name. A wait step
	// without one times out, its timeout passing at once on the test's virtual clock.
	Resumes map[string]*TestResume
	Expects []*Expect
	// ExpectRun is how the run must end: succeeded (the default), failed or filtered.
	ExpectRun      string
	ExpectRunRange hcl.Range // the attribute, or the block's header when not given
	DefRange       hcl.Range
	NameRange      hcl.Range // its label, where diagnostics about its name point
}

// TestEvent is the event a test starts its run with. Trigger is "" for the one the
// workflow's first trigger makes.
type TestEvent struct {
	Trigger      string
	TriggerRange hcl.Range         // the trigger attribute's value, when given
	Headers      map[string]string // lower-case names
	Query        map[string][]string
	Params       map[string]string
	ContentType  string
	Raw          string
	// PollPage and PollTime are event.poll of a poll's item: the page it came on (0
	// when not given: 1) and the poll's time, RFC 3339 ("" when not given: the test's).
	PollPage int
	PollTime string
}

// Mock is what a test answers an http step's requests with: the answers in turn, the
// last one again once they run out.
type Mock struct {
	Step      string
	Responses []MockResponse
	DefRange  hcl.Range
	StepRange hcl.Range // its label, where diagnostics about the step it names point
}

// MockResponse is one answer: a status, headers and a body, or an error ("timeout",
// "connection refused") instead of any answer.
type MockResponse struct {
	Status      int
	Headers     map[string]string
	Body        []byte
	ContentType string
	Error       string
}

// TestResume is what a test resumes a wait step with, as a POST to its resume URL
// would: a body (JSON, or text), headers and a query.
type TestResume struct {
	Step        string
	ContentType string
	Raw         string
	Headers     map[string]string // lower-case names
	Query       map[string][]string
	DefRange    hcl.Range
	StepRange   hcl.Range // its label, where diagnostics about the step it names point
}

// Expect is what a test expects of one step. A nil field is not checked.
type Expect struct {
	Step      string
	Method    *string
	URL       *string
	Headers   map[string]string // names in any case; each must be sent with this value
	JSON      any               // a subset of the JSON body sent; HasJSON says it is given
	HasJSON   bool
	Body      *string
	Count     *int
	Output    any // a subset of the step's output; HasOutput says it is given
	HasOutput bool
	Skipped   *bool
	// Ranges are where each attribute is written, by name, for the failures' file:line.
	Ranges    map[string]hcl.Range
	DefRange  hcl.Range
	StepRange hcl.Range // its label, where diagnostics about the step it names point
}

// Run outcomes a test may expect.
const (
	TestSucceeded = "succeeded"
	TestFailed    = "failed"
	TestFiltered  = "filtered"
)

var (
	testFileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}}}
	testSchema     = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "workflow", Required: true}, {Name: "expect_run"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "event"},
			{Type: "mock", LabelNames: []string{"step"}},
			{Type: "expect", LabelNames: []string{"step"}},
			{Type: "resume", LabelNames: []string{"step"}},
		},
	}
	resumeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "json"}, {Name: "body"}, {Name: "headers"}, {Name: "query"},
	}}
	testEventSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "body"}, {Name: "headers"}, {Name: "query"}, {Name: "params"}, {Name: "trigger"}, {Name: "content_type"}, {Name: "poll"},
	}}
	mockSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "status"}, {Name: "headers"}, {Name: "json"}, {Name: "body"}, {Name: "error"}, {Name: "responses"},
	}}
	expectSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "method"}, {Name: "url"}, {Name: "headers"}, {Name: "json"}, {Name: "body"},
		{Name: "count"}, {Name: "output"}, {Name: "skipped"},
	}}
	mockErrors = []string{"timeout", "connection refused"}
)

// ReadTests reads every *.test.hcl file under dir, recursively, in lexical order,
// skipping hidden entries as ReadDir does; dir may also be one such file.
func ReadTests(dir string) ([]Source, hcl.Diagnostics) {
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		data, err := ReadFile(dir)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read test file", Detail: err.Error()}}
		}
		return []Source{{Name: dir, Data: data}}, nil
	}
	return readTree(dir, IsTestFile, false)
}

// LoadTests decodes test files. With set, each test is checked against it: its
// workflow and the steps it mocks and expects must exist. It reports every problem in
// every file.
func LoadTests(srcs []Source, set *Set) ([]*Test, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var tests []*Test
	first := map[string]hcl.Range{}
	for _, src := range srcs {
		src.Data = lf(src.Data)
		f, d := parser.ParseHCL(src.Data, src.Name)
		d = syntaxDiags(d, src.Data, src.Name, true)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		content, d := f.Body.Content(testFileSchema)
		misplacedBlocks(d, f.Body, src.Name)
		diags = append(diags, d...)
		ctx := testEvalContext(filepath.Dir(src.Name))
		// Each check runs whatever the others found, so that one round of validate
		// reports every problem of every test.
		for _, b := range content.Blocks {
			t, d := decodeTest(b, ctx)
			diags = append(diags, d...)
			ok := !d.HasErrors()
			if at, dup := first[t.Name]; dup {
				diags = append(diags, duplicateDiag("test", t.Name, t.NameRange, at))
				ok = false
			} else {
				first[t.Name] = t.DefRange
			}
			if set != nil && t.Workflow != "" {
				diags = append(diags, checkTest(t, b, set)...)
			}
			if ok {
				tests = append(tests, t)
			}
		}
	}
	return tests, diags
}

// misplacedBlocks adds to each of diags that says a block of body, the body of file,
// is not expected there where it is: a test block in a workflow file, a workflow,
// vars or api block in a file of tests.
func misplacedBlocks(diags hcl.Diagnostics, body hcl.Body, file string) {
	syntax, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, d := range diags {
		if d.Summary != "Unsupported block type" || d.Subject == nil {
			continue
		}
		for _, b := range syntax.Blocks {
			if b.TypeRange != *d.Subject {
				continue
			}
			base := filepath.Base(file)
			switch {
			case b.Type == "test" && !IsTestFile(file):
				d.Detail += fmt.Sprintf(" Tests go in files whose names end in %s, beside the workflows they test: "+
					"move this block to one, such as %s.", TestSuffix, strings.TrimSuffix(base, ".hcl")+TestSuffix)
			case (b.Type == "workflow" || b.Type == "vars" || b.Type == "api") && IsTestFile(file):
				d.Detail += fmt.Sprintf(" A file whose name ends in %s holds tests only; %s blocks go in the other .hcl files: "+
					"move this block to one, such as %s.", TestSuffix, b.Type, strings.TrimSuffix(base, TestSuffix)+".hcl")
			}
		}
	}
}

// testEvalContext gives test files file(), relative to the test file and read as it
// is, and env(), which reads what the workflows' env() reads under hookflow test: its
// default, or without one the placeholder. Neither reads the environment, so a test
// that writes the URL a step builds from env() passes in every shell.
func testEvalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{
		"env": function.New(&function.Spec{
			Description: "The default, or without one the placeholder, of an environment variable, as hookflow test reads it.",
			Params:      []function.Parameter{{Name: "name", Type: cty.String}},
			VarParam:    &function.Parameter{Name: "default", Type: cty.String},
			Type:        function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				switch len(args) {
				case 1:
					return cty.StringVal(placeholderValue(args[0].AsString())), nil
				case 2:
					return args[1], nil
				}
				return cty.NilVal, fmt.Errorf("env takes a name and at most one default")
			},
		}),
		"file": function.New(&function.Spec{
			Description: "Reads a file, relative to the test file that calls it.",
			Params:      []function.Parameter{{Name: "path", Type: cty.String}},
			Type:        function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				p := args[0].AsString()
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				data, err := ReadFile(p)
				if err != nil {
					return cty.NilVal, fmt.Errorf("reading %s: %w", p, err)
				}
				return cty.StringVal(string(data)), nil
			},
		}),
	}}
}

// testOutcomes are the values of expect_run.
var testOutcomes = []string{TestSucceeded, TestFailed, TestFiltered}

// decodeTest decodes a test block. It returns what it could decode even when it
// reports errors, so that its workflow, mocks and expects can still be checked; its
// Workflow is "" when the block does not name one.
func decodeTest(b *hcl.Block, ctx *hcl.EvalContext) (*Test, hcl.Diagnostics) {
	t := &Test{Name: b.Labels[0], Mocks: map[string]*Mock{}, Resumes: map[string]*TestResume{}, ExpectRun: TestSucceeded, ExpectRunRange: b.DefRange, DefRange: b.DefRange, NameRange: b.LabelRanges[0]}
	content, diags := b.Body.Content(testSchema)
	if a := content.Attributes["workflow"]; a != nil {
		diags = append(diags, testString(a, ctx, &t.Workflow)...)
	}
	if a := content.Attributes["expect_run"]; a != nil {
		t.ExpectRunRange = a.Expr.Range()
		diags = append(diags, testString(a, ctx, &t.ExpectRun)...)
		if !slices.Contains(testOutcomes, t.ExpectRun) {
			detail := fmt.Sprintf("expect_run is the outcome the run should have: %s.", quoteList(testOutcomes))
			if s := nearWord(t.ExpectRun, testOutcomes); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown expect_run %q", t.ExpectRun),
				Detail: detail, Subject: a.Expr.Range().Ptr()})
		}
	}
	events := 0
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "event":
			if events++; events > 1 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate event block",
					Detail: "A test starts one run, with one event.", Subject: blk.DefRange.Ptr()})
				continue
			}
			diags = append(diags, decodeTestEvent(blk, ctx, &t.Event)...)
		case "mock":
			m, d := decodeMock(blk, ctx)
			diags = append(diags, d...)
			if first, dup := t.Mocks[m.Step]; dup {
				diags = append(diags, duplicateDiag("mock", m.Step, m.StepRange, first.DefRange))
				continue
			}
			t.Mocks[m.Step] = m
		case "resume":
			r, d := decodeResume(blk, ctx)
			diags = append(diags, d...)
			if first, dup := t.Resumes[r.Step]; dup {
				diags = append(diags, duplicateDiag("resume", r.Step, r.StepRange, first.DefRange))
				continue
			}
			t.Resumes[r.Step] = r
		case "expect":
			e, d := decodeExpect(blk, ctx)
			diags = append(diags, d...)
			t.Expects = append(t.Expects, e)
		}
	}
	return t, diags
}

// decodeResume decodes a resume block: json (any value, sent as JSON) or body (text
// as sent), headers and query.
func decodeResume(b *hcl.Block, ctx *hcl.EvalContext) (*TestResume, hcl.Diagnostics) {
	r := &TestResume{Step: b.Labels[0], Headers: map[string]string{}, DefRange: b.DefRange, StepRange: b.LabelRanges[0]}
	content, diags := b.Body.Content(resumeSchema)
	attrs := content.Attributes
	if attrs["json"] != nil && attrs["body"] != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both json and body",
			Detail: "A resume has one body: json for a JSON value, or body for text as sent.", Subject: attrs["body"].Range.Ptr()})
	}
	if a := attrs["json"]; a != nil {
		v, d := testValue(a, ctx)
		diags = append(diags, d...)
		if data, err := json.Marshal(v); err == nil && !d.HasErrors() {
			r.Raw, r.ContentType = string(data), "application/json"
		}
	}
	if a := attrs["body"]; a != nil {
		diags = append(diags, testString(a, ctx, &r.Raw)...)
		r.ContentType = "text/plain; charset=utf-8"
	}
	if a := attrs["headers"]; a != nil {
		h, d := testHeaders(a, ctx)
		diags = append(diags, d...)
		for k, v := range h {
			r.Headers[strings.ToLower(k)] = KeptHeader(k, v) // as serve keeps them
		}
	}
	if ct := r.Headers["content-type"]; ct != "" {
		r.ContentType = ct
	}
	if a := attrs["query"]; a != nil {
		q, d := testStrings(a, ctx)
		diags = append(diags, d...)
		r.Query = map[string][]string{}
		for k, v := range q {
			r.Query[k] = []string{v}
		}
	}
	return r, diags
}

// expectHints say, of an attribute an expect does not have, what checks it instead.
var expectHints = withAliases(map[string]string{
	"status":  "An expect reads an http step's status in its output: output = { status = 200 }.",
	"outcome": `An expect reads a step's outcome in its output: output = { outcome = "failed" }; skipped = true checks a step skipped.`,
	"error":   `An expect reads a failed step's error in its output: output = { error = "…" }.`,
}, statusAliases)

func decodeExpect(b *hcl.Block, ctx *hcl.EvalContext) (*Expect, hcl.Diagnostics) {
	e := &Expect{Step: b.Labels[0], Ranges: map[string]hcl.Range{}, DefRange: b.DefRange, StepRange: b.LabelRanges[0]}
	content, diags := b.Body.Content(expectSchema)
	aliasUnsupported(diags, b.Body, headersAliases)
	hintUnsupported(diags, b.Body, expectHints)
	for name, a := range content.Attributes {
		e.Ranges[name] = a.Range
		v, d := testValue(a, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if hasTemplate(v) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Template in an expect",
				Detail:  fmt.Sprintf("An expect's %s is compared as written: {{ }} is not rendered in a test, so the step would have to send the braces themselves. Write the value the step sends. A value that differs from run to run, such as the default Idempotency-Key (<run id>:<step>), cannot be expected; leave it out.", name),
				Subject: a.Expr.Range().Ptr()})
		}
		wrong := func(want string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid expect attribute",
				Detail: fmt.Sprintf("%s is %s, not %s.", name, want, typeName(v)), Subject: a.Expr.Range().Ptr()})
		}
		switch name {
		case "method", "url", "body":
			s, ok := v.(string)
			if !ok {
				wrong("a string")
				continue
			}
			switch name {
			case "method":
				s = strings.ToUpper(s)
				e.Method = &s
			case "url":
				e.URL = &s
			default:
				e.Body = &s
			}
		case "headers":
			var d hcl.Diagnostics
			e.Headers, d = testHeaders(a, ctx)
			diags = append(diags, d...)
		case "json":
			e.JSON, e.HasJSON = v, true
		case "output":
			e.Output, e.HasOutput = v, true
		case "count":
			n, ok := v.(int)
			if !ok || n < 0 {
				got := typeName(v)
				if _, float := v.(float64); ok || float {
					got = fmt.Sprint(v) // a number, but not one of these
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid expect attribute",
					Detail: fmt.Sprintf("count is how many requests the step sent: a whole number, 0 or more, not %s.", got), Subject: a.Expr.Range().Ptr()})
				continue
			}
			c := n
			e.Count = &c
		case "skipped":
			s, ok := v.(bool)
			if !ok {
				wrong("true or false")
				continue
			}
			e.Skipped = &s
		}
	}
	return e, diags
}

// hintUnsupported adds to each of diags that says an attribute of body is not
// expected there the hint for its name, if hints has one.
func hintUnsupported(diags hcl.Diagnostics, body hcl.Body, hints map[string]string) {
	eachUnsupported(diags, body, func(name string, d *hcl.Diagnostic) {
		if hint := hints[name]; hint != "" {
			d.Detail += " " + hint
		}
	})
}

// hasTemplate reports whether v, a test's value, holds a string with {{ in it.
func hasTemplate(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, "{{")
	case map[string]any:
		for _, e := range v {
			if hasTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

func testValue(a *hcl.Attribute, ctx *hcl.EvalContext) (any, hcl.Diagnostics) {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	out, err := goValue(v)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported value", Detail: err.Error(), Subject: a.Expr.Range().Ptr()}}
	}
	return out, nil
}

func testString(a *hcl.Attribute, ctx *hcl.EvalContext, into *string) hcl.Diagnostics {
	v, diags := testValue(a, ctx)
	if diags.HasErrors() {
		return diags
	}
	s, ok := v.(string)
	if !ok {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value",
			Detail: fmt.Sprintf("%s is a string, not %s.", a.Name, typeName(v)), Subject: a.Expr.Range().Ptr()}}
	}
	*into = s
	return nil
}

// testStrings reads an object of names to text: numbers and booleans are written as
// text, as they would be sent.
func testStrings(a *hcl.Attribute, ctx *hcl.EvalContext) (map[string]string, hcl.Diagnostics) {
	v, diags := testValue(a, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value",
			Detail: fmt.Sprintf("%s is an object of names to values, { Name = \"value\" }, not %s.", a.Name, typeName(v)), Subject: a.Expr.Range().Ptr()}}
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out, nil
}

// testHeaders is testStrings for headers, whose names and values are checked as a
// step's are: a test's request or answer carries none that no real one can.
func testHeaders(a *hcl.Attribute, ctx *hcl.EvalContext) (map[string]string, hcl.Diagnostics) {
	h, diags := testStrings(a, ctx)
	return h, append(diags, checkHeaderStrings(h, a.Expr)...)
}
