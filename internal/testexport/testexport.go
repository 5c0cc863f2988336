// Package testexport writes a run from the history as a workflow test, a *.test.hcl
// file: the run's event, each http step's recorded answers as mocks, each request as
// an expectation, and how the run ended. Run on a failed run, then fixed, it is a
// regression test. hookflow runs export-test and the inspector's "copy as test" both
// call Write.
//
// What the file leaves out: the history's secrets ([redacted]), the values of the
// event's credential fields and headers, and whatever derives from the old run's id
// or its event's id (Idempotency-Key, a URL naming the run): a test run has new ones,
// so an expectation of them could never match. Each one left out is said in a comment.
//
// What it rewrites: hookflow test reads nothing from the environment (env() reads its
// default), so a value env() read where the run was served is written as the test
// reads it, wherever it appears: a run that called $WAREHOUSE_URL/shipments expects
// the default's /shipments. A comment names each variable so written.
package testexport

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// ErrNotExportable is returned for a run a test cannot stand for: one that has not
// finished, or was cancelled.
var ErrNotExportable = errors.New("run cannot be exported as a test")

// skippedHeaders are request headers no expectation names: they derive from the run
// (Idempotency-Key), the version of hookflow (User-Agent) or the transport.
var skippedHeaders = map[string]bool{
	"idempotency-key": true, "user-agent": true, "content-length": true, "accept-encoding": true,
	"traceparent": true, "tracestate": true, "connection": true, "host": true,
}

// skippedAnswerHeaders are answer headers a mock leaves out: the transport's and the
// clock's, which no step reads.
var skippedAnswerHeaders = map[string]bool{
	"content-length": true, "date": true, "connection": true, "keep-alive": true, "transfer-encoding": true,
}

// Write returns the test file of a finished run. ev is the run's event as stored (the
// engine's RunEvent); name is the test's name, "" for one made of the run's id; env is
// what env() read where the run was served and hookflow test reads otherwise (the
// serving Set's EnvValues).
func Write(run *engine.Run, ev *workflows.Event, name string, env []workflows.EnvValue) ([]byte, error) {
	switch run.Status {
	case engine.RunSucceeded, engine.RunFailed:
	case engine.RunCancelled:
		return nil, fmt.Errorf("%w: run %s was cancelled, and a test cannot cancel its run", ErrNotExportable, run.ID)
	default:
		return nil, fmt.Errorf("%w: run %s has not finished (it is %s)", ErrNotExportable, run.ID, run.Status)
	}
	if name == "" {
		name = fmt.Sprintf("run %s of %s", run.ID, run.Workflow)
	}
	x := &exporter{hidden: hiddenValues(run, ev), ids: []string{run.ID}, env: findable(env), rewritten: map[string]bool{}}
	if ev != nil && ev.ID != "" {
		x.ids = append(x.ids, ev.ID)
	}
	// The test block first, then the comments above it: they say which variables it
	// writes as a test reads them.
	tf := hclwrite.NewEmptyFile()
	test := tf.Body().AppendNewBlock("test", []string{name}).Body()
	test.SetAttributeValue("workflow", cty.StringVal(run.Workflow))
	if ev != nil {
		test.AppendNewline()
		x.event(test, ev)
	}
	for _, s := range run.Steps { // the mocks, in the run's order
		if s.Kind == "workflow" {
			units := []unit{{StepRun: s, label: s.Name}}
			if s.ItemCount > 0 || len(s.Items) > 0 {
				units = units[:0]
				for _, it := range s.Items {
					units = append(units, unit{StepRun: it, label: fmt.Sprintf("%s[%s]", s.Name, keyText(it.Key))})
				}
			}
			for _, u := range units {
				if u.Status == engine.StatusSucceeded || u.Status == engine.StatusFailed {
					test.AppendNewline()
					x.childMock(test, u)
				}
			}
		}
		for _, u := range httpUnits([]engine.StepRun{s}) {
			if len(u.Requests) > 0 {
				test.AppendNewline()
				x.mock(test, u)
			}
		}
	}
	for _, st := range run.Steps { // what resumed its wait steps
		if st.Kind == "wait" && st.Status == engine.StatusSucceeded && !workflows.IsOnFailure(st.Path) {
			x.resume(test, st)
		}
	}
	for _, u := range expectUnits(run.Steps) {
		test.AppendNewline()
		x.expect(test, u)
	}
	test.AppendNewline()
	test.SetAttributeValue("expect_run", cty.StringVal(string(run.Status)))
	f := hclwrite.NewEmptyFile()
	root := f.Body()
	x.comment(root, fmt.Sprintf("Recorded from run %s of workflow %s (version %s), which %s.", run.ID, run.Workflow, run.Version, run.Status))
	x.comment(root, "Made by: hookflow runs export-test "+run.ID)
	for _, line := range x.rewrittenNote() {
		x.comment(root, line)
	}
	root.AppendUnstructuredTokens(tf.BuildTokens(nil))
	return hclwrite.Format(f.Bytes()), nil
}

// unit is a step or an item of a for_each step, with its label in the test file:
// STEP or STEP[KEY].
type unit struct {
	engine.StepRun
	label string
	lost  int // the attempts left out of Requests and Attempts (withoutLost)
}

// httpUnits are the http steps of a run, each item of a for_each one apart, in order,
// without their lost attempts.
func httpUnits(steps []engine.StepRun) []unit {
	var out []unit
	for _, s := range steps {
		if s.Kind != "http" {
			continue
		}
		if s.ItemCount > 0 || len(s.Items) > 0 {
			for _, it := range s.Items {
				out = append(out, withoutLost(unit{StepRun: it, label: fmt.Sprintf("%s[%s]", s.Name, keyText(it.Key))}))
			}
			continue
		}
		out = append(out, withoutLost(unit{StepRun: s, label: s.Name}))
	}
	return out
}

// withoutLost is u without the attempts whose workers stopped while they ran: what
// they sent is not known, and no worker stops in a test, so its mock answers, and its
// expect counts, the attempts that ran.
func withoutLost(u unit) unit {
	if !slices.ContainsFunc(u.Requests, func(q workflows.Request) bool { return q.Lost }) {
		return u
	}
	kept := make([]workflows.Request, 0, len(u.Requests))
	for _, q := range u.Requests {
		if q.Lost {
			u.lost++
			continue
		}
		kept = append(kept, q)
	}
	u.Requests, u.Attempts = kept, u.Attempts-u.lost
	return u
}

// expectUnits are what the test expects: the requests of http steps and items, and
// the steps skipped.
func expectUnits(steps []engine.StepRun) []unit {
	var out []unit
	for _, u := range httpUnits(steps) {
		if len(u.Requests) > 0 {
			out = append(out, u)
		}
	}
	for _, s := range steps {
		if s.Status == engine.StatusSkipped && s.Kind != "parallel" {
			out = append(out, unit{StepRun: s, label: s.Name})
		}
	}
	return out
}

// keyText is an item's key as a mock's label writes it: an index, or a map's key.
func keyText(k any) string {
	switch k := k.(type) {
	case float64:
		if k == math.Trunc(k) {
			return fmt.Sprint(int64(k))
		}
	case string:
		return k
	}
	return fmt.Sprint(k)
}

type exporter struct {
	hidden    []string             // texts that no value of the file may hold, nor an expectation
	ids       []string             // the old run's id and its event's, among hidden
	env       []workflows.EnvValue // values env() read, to write as hookflow test reads them
	rewritten map[string]bool      // the variables whose value the file writes so
}

// minEnvValue is the shortest value of env() found in the run's text and rewritten:
// a shorter one would match ordinary words and numbers, as a secret would.
const minEnvValue = workflows.MinSecret

// findable is env without the values too short to be found in text.
func findable(env []workflows.EnvValue) []workflows.EnvValue {
	var out []workflows.EnvValue
	for _, e := range env {
		if len(e.Value) >= minEnvValue {
			out = append(out, e)
		}
	}
	return out
}

// asTested is s with each value env() read where the run was served replaced by what
// hookflow test reads: what a test run sends where the run sent s.
func (x *exporter) asTested(s string) string {
	for _, e := range x.env { // longest first
		if strings.Contains(s, e.Value) {
			s = strings.ReplaceAll(s, e.Value, e.Test)
			x.rewritten[e.Name] = true
		}
	}
	return s
}

// asTestedValue is v with asTested applied to every string in it.
func (x *exporter) asTestedValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = x.asTestedValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = x.asTestedValue(e)
		}
		return out
	case string:
		return x.asTested(v)
	}
	return v
}

// rewrittenNote is the comment naming the variables whose values asTested rewrote,
// a line to an element; none when it rewrote none.
func (x *exporter) rewrittenNote() []string {
	if len(x.rewritten) == 0 {
		return nil
	}
	names := make([]string, 0, len(x.rewritten))
	for n := range x.rewritten {
		names = append(names, n)
	}
	sort.Strings(names)
	return []string{
		strings.Join(names, ", ") + ": written as hookflow test reads them, which is env()'s default",
		"(else https://unset.invalid/NAME), not as the process that served the run read them.",
	}
}

// hiddenValues are the texts an expectation must not hold: the history's [redacted],
// the old run's and event's ids, and the values of the event's credentials.
func hiddenValues(run *engine.Run, ev *workflows.Event) []string {
	out := []string{workflows.Redacted, run.ID}
	if ev == nil {
		return out
	}
	if ev.ID != "" {
		out = append(out, ev.ID)
	}
	add := func(s string) {
		if len(s) >= 4 && s != workflows.Redacted {
			out = append(out, s)
		}
	}
	for k, v := range ev.Headers {
		if workflows.IsCredentialName(k) {
			add(v)
		}
	}
	for k, vs := range ev.Query {
		if workflows.IsCredentialName(k) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	var walk func(v any, credential bool)
	walk = func(v any, credential bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(e, credential || workflows.IsCredentialName(k))
			}
		case []any:
			for _, e := range v {
				walk(e, credential)
			}
		case string:
			if credential {
				add(v)
			}
		}
	}
	walk(ev.Body, false)
	return out
}

// hides reports whether s holds a hidden text, or a resume URL of the run: its token
// is signed for the run, and a test's run has another.
func (x *exporter) hides(s string) bool {
	for _, h := range x.hidden {
		if strings.Contains(s, h) {
			return true
		}
	}
	return resumeToken.MatchString(s)
}

// resumeToken is the path of a resume URL: /resume/ and its signed token.
var resumeToken = regexp.MustCompile(`/resume/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// redact replaces the hidden texts in s by [redacted], and writes what env() read as
// a test reads it: for what the test gives (an event, a mock's answer), not what it
// checks.
func (x *exporter) redact(s string) string {
	for _, h := range x.hidden[1:] { // [redacted] itself stays
		s = strings.ReplaceAll(s, h, workflows.Redacted)
	}
	return x.asTested(s)
}

// redactValue is v with redact applied to every string in it, objects' keys included.
// Keys that redact alike keep the value of the last, in order.
func (x *exporter) redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		out := make(map[string]any, len(v))
		for _, k := range keys {
			out[x.redact(k)] = x.redactValue(v[k])
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = x.redactValue(e)
		}
		return out
	case string:
		return x.redact(v)
	}
	return v
}

// prune is v without the object members that hold a hidden text, in their key or
// their value: a subset that still matches what a test run sends. A list holding one
// cannot be cut (lists compare item by item): ok is false, and the member holding it
// goes. Each member that goes is added to dropped, when it is not nil, by its path
// (customer.email), with why; a key that holds a hidden text is named [redacted].
func (x *exporter) prune(v any, dropped *[]leftOut) (out any, ok bool) {
	return x.pruneAt(v, "", dropped)
}

func (x *exporter) pruneAt(v any, path string, dropped *[]leftOut) (out any, ok bool) {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			if x.hides(k) {
				if dropped != nil {
					*dropped = append(*dropped, leftOut{name: memberPath(path, workflows.Redacted), why: x.why(k)})
				}
				continue
			}
			at := memberPath(path, k)
			p, ok := x.pruneAt(e, at, dropped)
			if ok {
				m[k] = p
			} else if dropped != nil && !isObject(e) {
				*dropped = append(*dropped, leftOut{name: at, why: x.why(firstHidden(x, e))})
			}
		}
		return m, true
	case []any:
		l := make([]any, len(v))
		var inItems []leftOut // named only when the list stays
		for i, e := range v {
			p, ok := x.pruneAt(e, fmt.Sprintf("%s[%d]", path, i), &inItems)
			if !ok {
				return nil, false
			}
			l[i] = p
		}
		if dropped != nil {
			*dropped = append(*dropped, inItems...)
		}
		return l, true
	case string:
		return v, !x.hides(v)
	}
	return v, true
}

// memberPath is the path of member k of the object at path ("" for the top).
func memberPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// firstHidden is the first string in v that x hides; "" for none.
func firstHidden(x *exporter, v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			if s := firstHidden(x, v[k]); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range v {
			if s := firstHidden(x, e); s != "" {
				return s
			}
		}
	case string:
		if x.hides(v) {
			return v
		}
	}
	return ""
}

// leftOut is a value an expect leaves out: its name (url, a header's, a JSON member's
// path) and why, one of the reasons below.
type leftOut struct{ name, why string }

// Why a value is left out of an expect.
const (
	whySecret     = "secret"
	whyCredential = "credential"
	whyRunID      = "run id"
	whyResumeURL  = "resume URL"
	whyCut        = "cut"
)

// reasons say why, for one value and for several.
var reasons = map[string][2]string{
	whySecret:     {"a secret", "secrets"},
	whyCredential: {"a credential", "credentials"},
	whyRunID:      {"the old run's id", "the old run's id"},
	whyResumeURL:  {"a resume URL signed for the old run", "resume URLs signed for the old run"},
	whyCut:        {"the history keeps its start only", "the history keeps their start only"},
}

// why says why s, a text x hides, is left out.
func (x *exporter) why(s string) string {
	switch {
	case strings.Contains(s, workflows.Redacted):
		return whySecret
	case resumeToken.MatchString(s):
		return whyResumeURL
	}
	for _, id := range x.ids {
		if strings.Contains(s, id) {
			return whyRunID
		}
	}
	return whyCredential
}

// leftOutNote names what, the values left out of one kind ("headers", "json
// members"), each with why: "headers Authorization, X-Api-Key (credentials), X-Run
// (the old run's id)". Values with one reason are named together.
func leftOutNote(what string, values []leftOut) string {
	var order []string
	by := map[string][]string{}
	for _, v := range values {
		if by[v.why] == nil {
			order = append(order, v.why)
		}
		by[v.why] = append(by[v.why], v.name)
	}
	sort.Slice(order, func(i, j int) bool { return slices.Min(by[order[i]]) < slices.Min(by[order[j]]) })
	var groups []string
	for _, why := range order {
		names := by[why]
		sort.Strings(names)
		names = slices.Compact(names) // keys named [redacted] alike
		r := reasons[why][0]
		if len(names) > 1 {
			r = reasons[why][1]
		}
		groups = append(groups, strings.Join(names, ", ")+" ("+r+")")
	}
	if what == "" {
		return strings.Join(groups, ", ")
	}
	return what + " " + strings.Join(groups, ", ")
}

func (x *exporter) comment(b *hclwrite.Body, text string) {
	b.AppendUnstructuredTokens(hclwrite.Tokens{
		{Type: hclsyntax.TokenComment, Bytes: []byte("# " + strings.ReplaceAll(text, "\n", " ") + "\n")},
	})
}

// resume writes what resumed a wait step, from its output: its body (as JSON when it
// is an object or a list), headers and query, less credentials and what the test
// cannot know. A wait that timed out gets no resume block: the test times it out too.
func (x *exporter) resume(test *hclwrite.Body, st engine.StepRun) {
	out, ok := st.Output.(map[string]any)
	if timedOut, _ := out["timed_out"].(bool); ok && timedOut {
		return
	}
	test.AppendNewline()
	if !ok {
		x.comment(test, fmt.Sprintf("The resume of %s is not written: its run shows it as %v.", st.Name, x.redact(fmt.Sprint(st.Output))))
		return
	}
	b := test.AppendNewBlock("resume", []string{st.Name}).Body()
	switch body := out["body"].(type) {
	case map[string]any, []any:
		if v, ok := x.prune(x.redactValue(workflows.RedactCredentialFields(body)), nil); ok {
			b.SetAttributeRaw("json", valueTokens(toCty(v)))
		}
	case string:
		if body != "" && !x.hides(body) {
			b.SetAttributeValue("body", cty.StringVal(x.redact(body)))
		}
	}
	for _, field := range []string{"headers", "query"} {
		m, _ := out[field].(map[string]any)
		kept := map[string]any{}
		for k, v := range m {
			text, isText := v.(string)
			if workflows.IsCredentialName(k) || field == "headers" && skippedHeaders[strings.ToLower(k)] ||
				isText && (strings.Contains(text, workflows.Redacted) || x.hides(text)) {
				continue
			}
			kept[k] = x.redactValue(v)
		}
		if len(kept) > 0 {
			b.SetAttributeRaw(field, valueTokens(toCty(kept)))
		}
	}
}

// mock writes the recorded answers of a step or an item: one, or a sequence when it
// was tried more than once (or asked for more than one page). The answers of a
// sensitive step were never recorded, only [sensitive] in their place: a comment above
// the mock says they are to be filled in, as the step that reads them (a paginate
// block's next, a later step) would fail on the placeholder with an error that does
// not say why.
func (x *exporter) mock(test *hclwrite.Body, u unit) {
	if slices.ContainsFunc(u.Requests, func(q workflows.Request) bool {
		return q.Response != nil && q.Response.Body == workflows.SensitiveShown
	}) {
		x.comment(test, fmt.Sprintf("Step %s is sensitive: its run keeps its answers as %s, not as they came, and so does this mock.",
			u.label, workflows.SensitiveShown))
		x.comment(test, "Fill in the answers the test should give: what reads them here reads the placeholder.")
	}
	b := test.AppendNewBlock("mock", []string{u.label}).Body()
	if u.lost > 0 {
		s := ""
		if u.lost > 1 {
			s = "s"
		}
		x.comment(b, fmt.Sprintf("Left out: %d attempt%s lost (its worker stopped while it ran; the request may have been sent): the answers are those of the attempts that ran.",
			u.lost, s))
	}
	if u.Attempts > len(u.Requests) {
		x.comment(b, fmt.Sprintf("The history keeps the last %d of its %d attempts.", len(u.Requests), u.Attempts))
	}
	if len(u.Requests) == 1 {
		for _, a := range x.answer(u.Requests[0]) {
			b.SetAttributeRaw(a.name, valueTokens(a.value))
		}
		return
	}
	var list [][]attr
	for _, q := range u.Requests {
		list = append(list, x.answer(q))
	}
	b.SetAttributeRaw("responses", responsesTokens(list))
}

// childMock answers a workflow step (or an item of one) with its child run's recorded
// result, so that the test does not run the child (whose steps it has no answers
// for): a failed child is a failing answer.
func (x *exporter) childMock(test *hclwrite.Body, s unit) {
	b := test.AppendNewBlock("mock", []string{s.label}).Body()
	out, _ := s.Output.(map[string]any)
	if s.Status == engine.StatusFailed {
		x.comment(b, "The child run failed: "+x.redact(s.Error))
		b.SetAttributeValue("status", cty.NumberIntVal(500))
		return
	}
	if result, ok := out["result"]; ok && result != nil {
		b.SetAttributeRaw("json", valueTokens(toCty(x.redactValue(result))))
	}
}

type attr struct {
	name  string
	value cty.Value
}

// answer is a recorded answer as a mock's attributes: status, headers, json or body;
// or error for a request that got none.
func (x *exporter) answer(q workflows.Request) []attr {
	if q.Status == 0 {
		kind := "connection refused"
		if e := strings.ToLower(q.Error); strings.Contains(e, "timeout") || strings.Contains(e, "deadline") {
			kind = "timeout"
		}
		return []attr{{"error", cty.StringVal(kind)}}
	}
	out := []attr{{"status", cty.NumberIntVal(int64(q.Status))}}
	if q.Response == nil {
		return out
	}
	var body *attr
	if q.Response.Body != "" {
		if v, err := workflows.DecodeJSON([]byte(q.Response.Body)); err == nil {
			body = &attr{"json", toCty(x.redactValue(v))}
		} else {
			body = &attr{"body", cty.StringVal(x.redact(q.Response.Body))}
		}
	}
	headers := map[string]any{}
	for k, v := range q.Response.Headers {
		switch lk := strings.ToLower(k); {
		case skippedAnswerHeaders[lk] || workflows.IsCredentialName(k) || strings.Contains(v, workflows.Redacted),
			k == workflows.HeadersCut || workflows.IsCut(v):
		case lk == "content-type" && body != nil && body.name == "json" && strings.HasPrefix(v, "application/json"):
			// json gives the answer this content type
		default:
			headers[http.CanonicalHeaderKey(k)] = x.redact(v)
		}
	}
	if len(headers) > 0 {
		out = append(out, attr{"headers", toCty(headers)})
	}
	if body != nil {
		out = append(out, *body)
	}
	return out
}

// expect writes what a step or an item sent (its last request, the one whose answer it
// kept) and how many times, or that it was skipped.
func (x *exporter) expect(test *hclwrite.Body, u unit) {
	b := test.AppendNewBlock("expect", []string{u.label}).Body()
	if u.Status == engine.StatusSkipped {
		b.SetAttributeValue("skipped", cty.True)
		return
	}
	q := u.Requests[len(u.Requests)-1]
	var left []string // what is left out, each with why
	b.SetAttributeValue("method", cty.StringVal(q.Method))
	switch {
	case x.hides(q.URL):
		left = append(left, leftOutNote("", []leftOut{{"url", x.why(q.URL)}}))
	case workflows.IsCut(q.URL):
		left = append(left, leftOutNote("", []leftOut{{"url", whyCut}}))
	default:
		b.SetAttributeValue("url", cty.StringVal(x.asTested(q.URL)))
	}
	headers := map[string]any{}
	var names []leftOut
	for k, v := range q.Headers {
		switch {
		case skippedHeaders[strings.ToLower(k)]:
		case workflows.IsCredentialName(k):
			names = append(names, leftOut{k, whyCredential})
		case x.hides(v):
			names = append(names, leftOut{k, x.why(v)})
		case k == workflows.HeadersCut:
			left = append(left, fmt.Sprintf("headers past the %d KiB the history keeps", workflows.MaxRecordedHeaders>>10))
		case workflows.IsCut(v):
			names = append(names, leftOut{k, whyCut})
		default:
			headers[k] = x.asTested(v)
		}
	}
	if len(headers) > 0 {
		b.SetAttributeRaw("headers", valueTokens(toCty(headers)))
	}
	if len(names) > 0 {
		left = append(left, leftOutNote("headers", names))
	}
	if q.Body != "" {
		v, err := workflows.DecodeJSON([]byte(q.Body))
		switch {
		case strings.Contains(q.Body, "\n[cut: the body is "):
			left = append(left, "the body (the history keeps its start only)")
		case err == nil:
			var members []leftOut
			p, ok := x.prune(v, &members)
			if !ok {
				left = append(left, leftOutNote("", []leftOut{{"json", x.why(firstHidden(x, v))}}))
				break
			}
			if len(members) > 0 {
				left = append(left, leftOutNote("json members", members))
			}
			if m, isMap := p.(map[string]any); isMap && len(m) == 0 && len(members) > 0 {
				break // json = {} would check nothing
			}
			b.SetAttributeRaw("json", valueTokens(toCty(x.asTestedValue(p))))
		case x.hides(q.Body):
			left = append(left, leftOutNote("", []leftOut{{"body", x.why(q.Body)}}))
		default:
			b.SetAttributeValue("body", cty.StringVal(x.asTested(q.Body)))
		}
	}
	if u.Attempts == len(u.Requests) && u.Attempts > 1 {
		b.SetAttributeValue("count", cty.NumberIntVal(int64(u.Attempts)))
	}
	if len(left) > 0 {
		x.comment(b, "Left out: "+strings.Join(left, "; ")+": a test run does not have them, so an expect of them could never match.")
	}
}

// toCty is a JSON-like value (as workflows.DecodeJSON gives) as a cty value.
func toCty(v any) cty.Value {
	switch v := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case string:
		return cty.StringVal(v)
	case bool:
		return cty.BoolVal(v)
	case int:
		return cty.NumberIntVal(int64(v))
	case int64:
		return cty.NumberIntVal(v)
	case float64:
		return cty.NumberFloatVal(v)
	case map[string]any:
		if len(v) == 0 {
			return cty.EmptyObjectVal
		}
		m := make(map[string]cty.Value, len(v))
		for k, e := range v {
			m[k] = toCty(e)
		}
		return cty.ObjectVal(m)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = e
		}
		return toCty(m)
	case []any:
		if len(v) == 0 {
			return cty.EmptyTupleVal
		}
		l := make([]cty.Value, len(v))
		for i, e := range v {
			l[i] = toCty(e)
		}
		return cty.TupleVal(l)
	}
	return cty.StringVal(fmt.Sprint(v))
}

// responsesTokens writes a mock's answers one to an object, each attribute on its
// line, in the order a person writes them (status first).
func responsesTokens(list [][]attr) hclwrite.Tokens {
	nl := &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")}
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")}, nl}
	for _, attrs := range list {
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}, nl)
		for _, a := range attrs {
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenIdent, Bytes: []byte(a.name)},
				&hclwrite.Token{Type: hclsyntax.TokenEqual, Bytes: []byte("=")})
			toks = append(toks, valueTokens(a.value)...)
			toks = append(toks, nl)
		}
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")},
			&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")}, nl)
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// valueTokens writes v as people write HCL: a list of objects or lists one item to a
// line, an object one attribute to a line. hclwrite.TokensForValue would write a list
// of objects on a few crooked lines.
func valueTokens(v cty.Value) hclwrite.Tokens {
	ty := v.Type()
	if v.IsNull() || !v.IsKnown() || !ty.IsObjectType() && !ty.IsTupleType() || v.LengthInt() == 0 {
		return hclwrite.TokensForValue(v)
	}
	nl := &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")}
	if ty.IsTupleType() {
		nested := false
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.Type().IsObjectType() || e.Type().IsTupleType() {
				nested = true
			}
		}
		if !nested {
			return hclwrite.TokensForValue(v)
		}
		toks := hclwrite.Tokens{{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")}, nl}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			toks = append(toks, valueTokens(e)...)
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")}, nl)
		}
		return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
	}
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}, nl}
	for it := v.ElementIterator(); it.Next(); { // in the order of the keys
		k, e := it.Element()
		if name := k.AsString(); hclsyntax.ValidIdentifier(name) {
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenIdent, Bytes: []byte(name)})
		} else {
			toks = append(toks, hclwrite.TokensForValue(k)...)
		}
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenEqual, Bytes: []byte("=")})
		toks = append(toks, valueTokens(e)...)
		toks = append(toks, nl)
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")})
}
