package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/workflows"
)

// sentRequest is a request an http step sent in a test.
type sentRequest struct {
	method, url string
	header      http.Header
	body        []byte
}

// String shows the request as the dry run does: its line, headers (credentials
// hidden) and body.
func (s *sentRequest) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", s.method, s.url)
	writeHeaders(&b, s.header, "", func(v string) string { return v })
	if len(s.body) > 0 {
		b.WriteString(strings.TrimRight(string(s.body), "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// testCase is one running test: its mocks' answers given so far and the requests sent.
type testCase struct {
	test *workflows.Test

	mu       sync.Mutex
	used     map[string]int            // by run, step and item: the answers given (next)
	sent     map[string][]*sentRequest // by step
	unmocked []string                  // the steps that sent a request no mock answers, in order
	// labels name the steps of the test's run and of its child runs, as mocks,
	// expects and resume blocks name them.
	labels stepLabels
}

// next is the next of mock's responses to step label of run, for the item whose key
// is key ("" for a step without for_each). Each item, and each child run, answers
// from the first response on, whatever the others were given: a for_each step's items
// get the same answers whatever order they run in, and [503, 200] retries each item.
func (tc *testCase) next(run, label, key string, mock *workflows.Mock) workflows.MockResponse {
	k := run + " " + label + "[" + key + "]"
	n := min(tc.used[k], len(mock.Responses)-1)
	tc.used[k]++
	return mock.Responses[n]
}

// mockTransport answers the http steps of every running test with the test's mocks,
// telling the tests apart by their event's id. It sends nothing.
type mockTransport struct {
	mu      sync.Mutex
	byEvent map[string]*testCase
}

func (t *mockTransport) add(eventID string, tc *testCase) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byEvent[eventID] = tc
}

func (t *mockTransport) remove(eventID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byEvent, eventID)
}

// caseOf is the test of a run: the test's own run has its event's id, and a child run's
// id starts with its parent's and a colon.
func (t *mockTransport) caseOf(runID string) *testCase {
	root, _, _ := strings.Cut(runID, ":")
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byEvent[root]
}

// child answers a workflow step the test mocks, as the engine asks before it starts a
// child run (engine.Options.Child): the mock's json (or body) is the step's result,
// and an answer with a status from 400, or an error, fails the step. A step not
// mocked runs its child for real, whose steps the test's mocks answer as
// "STEP/CHILDSTEP" (see stepLabels).
func (t *mockTransport) child(_ context.Context, call engine.ChildCall) (any, bool, error) {
	tc := t.caseOf(call.Run)
	if tc == nil {
		return nil, false, nil
	}
	label := tc.labels.learn(call)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	mock := tc.test.Mocks[label] // an item's own mock, STEP[KEY], else the step's
	if call.Key != "" {
		if m := tc.test.Mocks[label+"["+call.Key+"]"]; m != nil {
			label, mock = label+"["+call.Key+"]", m
		}
	}
	if mock == nil {
		return nil, false, nil
	}
	answer := tc.next(call.Run, label, call.Key, mock)
	if answer.Error != "" {
		return nil, true, fmt.Errorf("%s (mock)", answer.Error)
	}
	return childAnswer(answer.Status, answer.Body, "mock")
}

// childAnswer is the result of a workflow step an answer stands for, with no child
// run, as engine.Options.Child gives it: body, JSON or text, as the child's result; a
// status from 400 fails the step, saying what gave it (by).
func childAnswer(status int, body []byte, by string) (any, bool, error) {
	switch {
	case status >= 400:
		return nil, true, fmt.Errorf("status %d (%s)", status, by)
	case len(body) == 0:
		return nil, true, nil
	}
	if v, err := workflows.DecodeJSON(body); err == nil {
		return v, true, nil
	}
	return string(body), true, nil
}

// resume answers a wait step with its test's resume block, named as its mocks name
// steps: "approval" in the test's run, "invoice/approval" in the child run of step
// invoice. False for none, and the wait times out.
func (t *mockTransport) resume(c *workflows.Call) (*workflows.Resume, bool) {
	if c == nil {
		return nil, false
	}
	tc := t.caseOf(c.RunID)
	if tc == nil {
		return nil, false
	}
	r := tc.test.Resumes[tc.labels.label(c.RunID, c.Step)]
	if r == nil {
		return nil, false
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	res, err := workflows.NewResume(r.ContentType, []byte(r.Raw), h, r.Query)
	if err != nil { // the step fails with what is wrong with the body
		return &workflows.Resume{ContentType: r.ContentType, Raw: r.Raw}, true
	}
	return res, true
}

// errNoMock fails a step whose request no mock answers: another attempt would not help.
var errNoMock = workflows.Permanent(fmt.Errorf("no mock answers this step, and a test sends nothing"))

// timeoutError is what a mock with error = "timeout" fails the request with.
type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout awaiting response headers (mock)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (t *mockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	if actions.IsTokenRequest(req) {
		return mockAnswer(req, workflows.MockResponse{Status: dryTokenAnswer.status, Body: dryTokenAnswer.body, ContentType: dryTokenAnswer.contentType}), nil
	}
	c := actions.CallOf(req)
	var tc *testCase
	var run string // the id of the run sending it: a child run's is its event's
	if c != nil && c.Env != nil {
		run, _ = c.Env.Event["id"].(string)
		tc = t.caseOf(run)
	}
	if tc == nil {
		return nil, workflows.Permanent(fmt.Errorf("%s %s: a test sends nothing", req.Method, req.URL))
	}
	sent := &sentRequest{method: req.Method, url: req.URL.String(), header: req.Header.Clone(), body: body}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	step := tc.labels.label(run, c.Step)
	tc.sent[step] = append(tc.sent[step], sent)
	mock := tc.test.Mocks[step] // the mock that answers: an item's own, else the step's
	var key string
	if c.Item != nil {
		key = c.Item.KeyText()
		item := fmt.Sprintf("%s[%s]", step, key)
		tc.sent[item] = append(tc.sent[item], sent)
		if m := tc.test.Mocks[item]; m != nil {
			mock = m
		}
	}
	if mock == nil {
		if !slices.Contains(tc.unmocked, step) {
			tc.unmocked = append(tc.unmocked, step)
		}
		return nil, errNoMock
	}
	answer := tc.next(run, step, key, mock)
	switch answer.Error {
	case "timeout":
		return nil, timeoutError{}
	case "connection refused":
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return mockAnswer(req, answer), nil
}

func mockAnswer(req *http.Request, a workflows.MockResponse) *http.Response {
	header := http.Header{}
	if a.ContentType != "" {
		header.Set("Content-Type", a.ContentType)
	}
	for k, v := range a.Headers {
		header.Set(k, v)
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status)), StatusCode: a.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header,
		Body: io.NopCloser(bytes.NewReader(a.Body)), ContentLength: int64(len(a.Body)), Request: req,
	}
}

// testResult is how one test went.
type testResult struct {
	test     *workflows.Test
	steps    string // the run's steps, printed when the test failed or -v; "" for none
	outcome  string
	took     time.Duration
	failures []testFailure
	redact   func(string) string
	secrets  *workflows.Redactor // the workflow's, which redact hides; nil for none
	// interrupted: SIGINT or SIGTERM came before the test had its result, so it did
	// not run, or not to its end. It has no failures: it neither passed nor failed.
	interrupted bool
}

// testFailure is one failed expectation, at the place in the test file that states it.
type testFailure struct {
	at   hcl.Range
	text string
	// shown: text has its secrets hidden already, and shows only the placeholders a
	// test's secret() reads (see headerLines): it is printed as it is.
	shown bool
}

func (r *testResult) fail(at hcl.Range, format string, args ...any) {
	r.failures = append(r.failures, testFailure{at: at, text: fmt.Sprintf(format, args...)})
}

// hide is r.redact, or nothing hidden when r has none.
func (r *testResult) hide(s string) string {
	if r.redact == nil {
		return s
	}
	return r.redact(s)
}

func (r *testResult) failed() bool { return len(r.failures) > 0 }

// notRun is what an interrupted test says.
const notRun = "not run: interrupted"

// cutShort makes r a test that the interrupt kept from its result.
func (r *testResult) cutShort() *testResult {
	r.interrupted, r.failures, r.steps = true, nil, ""
	return r
}

// print writes ok or FAIL with the test's name, each failure at its file:line, and the
// run's steps when the test failed or verbose.
func (r *testResult) print(w io.Writer, verbose bool) {
	if r.interrupted {
		fmt.Fprintf(w, "SKIP  %s (%s:%d): %s\n", r.test.Name, r.test.DefRange.Filename, r.test.DefRange.Start.Line, notRun)
		return
	}
	word := "ok  "
	if r.failed() {
		word = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s (%s:%d, %s)\n", word, r.test.Name, r.test.DefRange.Filename, r.test.DefRange.Start.Line, r.took.Round(time.Millisecond))
	for _, f := range r.failures {
		text := f.text
		if !f.shown {
			text = r.hide(text)
		}
		fmt.Fprintf(w, "    %s:%d: %s\n", f.at.Filename, f.at.Start.Line, indent(text, "    "))
	}
	if r.steps != "" && (r.failed() || verbose) {
		fmt.Fprint(w, indent("    "+strings.TrimRight(r.hide(r.steps), "\n"), "    ")+"\n")
	}
}

// indent indents every line of s but the first.
func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// check compares what the run did with what the test expects; values are what the
// run's later steps read as steps.NAME (Engine.StepValues).
func check(r *testResult, tc *testCase, run *engine.Run, values map[string]any) {
	t := tc.test
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, step := range tc.unmocked {
		reqs := tc.sent[step]
		r.fail(t.DefRange, "step %q sent a request that no mock answers:\n%s\nAnswer it with a mock %q { status = 200, json = {…} } in the test.",
			step, indentAll(reqs[len(reqs)-1].String(), "    "), step)
	}
	if string(run.Status) != t.ExpectRun {
		why := run.Error // as serve and hookflow run say it
		for _, s := range run.Steps {
			if why != "" {
				break
			}
			if s.Status == engine.StatusFailed && s.Error != "" {
				why = fmt.Sprintf("step %s: %s", s.Name, s.Error)
			}
		}
		text := fmt.Sprintf("the run: expected %s, but it %s", t.ExpectRun, run.Status)
		if why != "" {
			text += "\n" + why
		}
		r.fail(t.ExpectRunRange, "%s", text)
	}
	for _, e := range t.Expects {
		checkExpect(r, e, stepRecord(run, e.Step), values[e.Step], tc.sent[e.Step])
	}
}

func indentAll(s, prefix string) string {
	return prefix + indent(s, prefix)
}

// stepRecord finds a step of the run by name, or an item of a for_each step by its
// path (reserve[2]); nil when the run never reached it.
func stepRecord(run *engine.Run, name string) *engine.StepRun {
	for i := range run.Steps {
		s := &run.Steps[i]
		if s.Name == name || s.Path == name {
			return s
		}
		for j := range s.Items {
			if s.Items[j].Path == name {
				return &s.Items[j]
			}
		}
	}
	return nil
}

// checkExpect checks a step, or an item, against an expect block: s is its record
// (nil when the run never reached it), value what later steps read as its
// steps.NAME, and sent the requests it sent.
func checkExpect(r *testResult, e *workflows.Expect, s *engine.StepRun, value any, sent []*sentRequest) {
	label := fmt.Sprintf("expect %q", e.Step)
	at := func(attr string) hcl.Range { return e.Ranges[attr] }
	// The step's outcome, as steps.STEP.outcome says it: its status is an http
	// step's HTTP status.
	outcome, ended := "not reached", "the run never reached it"
	if s != nil {
		outcome = string(s.Status)
		ended = "its outcome is " + outcome
	}
	if e.Skipped != nil {
		if skipped := outcome == string(engine.StatusSkipped); skipped != *e.Skipped {
			want := "skipped"
			if !*e.Skipped {
				want = "not skipped"
			}
			r.fail(at("skipped"), "%s: expected the step %s, but %s", label, want, ended)
		}
	}
	if e.Count != nil && len(sent) != *e.Count {
		r.fail(at("count"), "%s count: expected %d request%s, sent %d", label, *e.Count, plural(*e.Count), len(sent))
	}
	if e.HasOutput {
		if lines := subsetDiff(e.Output, value, "got"); len(lines) > 0 {
			r.fail(at("output"), "%s output (%s):\n%s", label, outcome, strings.Join(lines, "\n"))
		}
	}
	if e.Method == nil && e.URL == nil && e.Headers == nil && !e.HasJSON && e.Body == nil {
		return
	}
	if len(sent) == 0 {
		r.fail(e.DefRange, "%s: expected a request, but the step sent none (%s)", label, ended)
		return
	}
	last := sent[len(sent)-1] // the one whose answer the step kept
	if e.Method != nil && !strings.EqualFold(*e.Method, last.method) {
		r.fail(at("method"), "%s method:\n    expected: %s\n    sent:     %s", label, *e.Method, last.method)
	}
	if e.URL != nil && *e.URL != last.url {
		r.fail(at("url"), "%s url:\n    expected: %s\n    sent:     %s", label, *e.URL, last.url)
	}
	if e.Headers != nil {
		if lines := headerLines(e.Headers, last.header, r.secrets); len(lines) > 0 {
			r.failures = append(r.failures, testFailure{at: at("headers"), shown: true,
				text: fmt.Sprintf("%s headers:\n%s", label, strings.Join(lines, "\n"))})
		}
	}
	if e.HasJSON {
		got, err := decodeJSONNumbers(last.body)
		if err != nil {
			r.fail(at("json"), "%s json: the body sent is not JSON:\n    %s", label, oneLine(string(last.body), 200))
		} else if lines := subsetDiff(e.JSON, got, "sent"); len(lines) > 0 {
			r.fail(at("json"), "%s json:\n%s", label, strings.Join(lines, "\n"))
		}
	}
	if e.Body != nil && *e.Body != string(last.body) {
		r.fail(at("body"), "%s body:\n    expected: %s\n    sent:     %s", label, bodyText(*e.Body), bodyText(string(last.body)))
	}
}

// subsetDiff lists where got differs from want, where want is a subset: an object's
// keys not in want are not compared; lists compare item by item. Each line names the
// place (.a.b[2]) with what was expected and what got is, in JSON.
func subsetDiff(want, got any, verb string) []string {
	var lines []string
	diffAt("", normalJSON(want), normalJSON(got), verb, &lines)
	return lines
}

func diffAt(path string, want, got any, verb string, lines *[]string) {
	place := path
	if place == "" {
		place = "(the whole value)"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*lines = append(*lines, fmt.Sprintf("    %s: expected an object %s, %s %s", place, jsonText(w), verb, jsonText(got)))
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				*lines = append(*lines, fmt.Sprintf("    %s.%s: expected %s, missing", path, k, jsonText(w[k])))
				continue
			}
			diffAt(path+"."+k, w[k], gv, verb, lines)
		}
	case []any:
		g, ok := got.([]any)
		if ok && len(g) != len(w) {
			*lines = append(*lines, fmt.Sprintf("    %s: expected %d item%s %s, %s %d %s", place, len(w), plural(len(w)), jsonText(w), verb, len(g), jsonText(got)))
			return
		}
		if !ok {
			*lines = append(*lines, fmt.Sprintf("    %s: expected %s, %s %s", place, jsonText(w), verb, jsonText(got)))
			return
		}
		for i := range w {
			diffAt(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], verb, lines)
		}
	default:
		if equalScalar(want, got) {
			return
		}
		ws, wok := want.(string)
		gs, gok := got.(string)
		if !wok || !gok || len(ws)+len(gs) < 100 {
			*lines = append(*lines, fmt.Sprintf("    %s: expected %s, %s %s", place, jsonText(want), verb, jsonText(got)))
			return
		}
		// Long texts, one under the other, and where they part.
		i := 0
		for i < len(ws) && i < len(gs) && ws[i] == gs[i] {
			i++
		}
		*lines = append(*lines, fmt.Sprintf("    %s: the texts differ from character %d on:\n        expected: %s\n        %-9s %s\n        expected …%s\n        %-9s …%s",
			place, i+1, jsonText(want), verb+":", jsonText(got), jsonText(tail(ws, i)), verb, jsonText(tail(gs, i))))
	}
}

// tail is s from byte i on, cut short.
func tail(s string, i int) string {
	s = s[i:]
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// normalJSON gives a value as JSON decodes it, its numbers as json.Number, the text
// they are written with: equalScalar compares them exactly, where float64 would make
// 9007199254740993 equal 9007199254740992.
func normalJSON(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := decodeJSONNumbers(data)
	if err != nil {
		return v
	}
	return out
}

// decodeJSONNumbers decodes JSON with its numbers as json.Number.
func decodeJSONNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: more data after the value")
	}
	return out, nil
}

// equalScalar compares two values of normalJSON that are not objects or lists. Numbers
// compare by their value, exactly, as fractions: 1 equals 1.0, and 820982911946154508
// does not equal 820982911946154500.
func equalScalar(want, got any) bool {
	w, wok := want.(json.Number)
	g, gok := got.(json.Number)
	if !wok || !gok {
		return reflect.DeepEqual(want, got)
	}
	var wr, gr big.Rat
	if _, ok := wr.SetString(string(w)); !ok {
		return w == g
	}
	if _, ok := gr.SetString(string(g)); !ok {
		return false
	}
	if beyondInt64(&wr) {
		// A whole number written in a test past int64 is read as a float64 (HCL's
		// numbers become Go's so): it can match only as one.
		wf, _ := wr.Float64()
		gf, _ := gr.Float64()
		return wf == gf
	}
	return wr.Cmp(&gr) == 0
}

// beyondInt64 reports whether r is an integer past what int64 holds.
func beyondInt64(r *big.Rat) bool {
	return r.IsInt() && !r.Num().IsInt64()
}

// jsonText writes v as JSON on one line, cut short past 1000 bytes; <, > and & as
// they are.
func jsonText(v any) string {
	data, err := httpjson.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return oneLine(string(data), 1000)
}

// bodyText shows a body on one line, and an empty one as such.
func bodyText(s string) string {
	if s == "" {
		return "(empty)"
	}
	return oneLine(s, 200)
}
