package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// runStep is a step a run of a workflow may run, its child runs' included, named as
// tests name it: "create" in the run, "invoice/create" in the child run of its
// workflow step invoice ("invoice/deeper/create" in a grandchild's).
type runStep struct {
	label string
	step  *workflows.Step
}

// runSteps lists the steps a run of wf may run: its own, on_failure's included, then
// those of the child run of each of its workflow steps, named as tests name them. A
// workflow that runs itself, or one that runs it, is not walked again.
func runSteps(set *workflows.Set, wf *workflows.Workflow) []runStep {
	var out []runStep
	var walk func(w *workflows.Workflow, prefix string, calling []string)
	walk = func(w *workflows.Workflow, prefix string, calling []string) {
		if w == nil || slices.Contains(calling, w.Name) {
			return
		}
		calling = append(calling, w.Name)
		steps := slices.Concat(w.Steps, w.OnFailure)
		for _, s := range steps {
			out = append(out, runStep{label: prefix + s.Name, step: s})
		}
		for _, s := range steps {
			if sub, ok := s.Action.(workflows.SubRun); ok {
				walk(set.Workflow(sub.Calls()), prefix+s.Name+"/", slices.Clip(calling))
			}
		}
	}
	walk(wf, "", nil)
	return out
}

// answeredSteps names each --response's step as tests do: a name a run's step has
// (create, invoice/create), or a step's own name when one step only has it, in wf or
// in a child run (create for invoice/create). A name that several steps have is
// refused, with the names that tell them apart.
func answeredSteps(set *workflows.Set, wf *workflows.Workflow, given map[string][]dryAnswer) (map[string][]dryAnswer, error) {
	steps := runSteps(set, wf)
	out := make(map[string][]dryAnswer, len(given))
	by := map[string]string{} // by label: the name given for it
	names := slices.Sorted(maps.Keys(given))
	for _, name := range names {
		label := ""
		var same []string // the steps whose own name it is
		for _, s := range steps {
			if s.label == name {
				label = name
				break
			}
			if s.step.Name == name {
				same = append(same, s.label)
			}
		}
		switch {
		case label != "":
		case len(same) == 1:
			label = same[0]
		case len(same) > 1:
			return nil, badFlag("response", " %s: more than one step of a run of %s is named %q: %s; name the one to answer as tests do, STEP/CHILD_STEP for a step of the child run of workflow step STEP",
				name, wf.Name, name, strings.Join(same, ", "))
		default:
			var answerable []string
			for _, s := range steps {
				if s.step.Kind == "http" || s.step.Kind == "workflow" {
					answerable = append(answerable, s.label)
				}
			}
			if len(answerable) == 0 {
				return nil, badFlag("response", " %s: workflow %s has no step %q, and no http or workflow step to answer", name, wf.Name, name)
			}
			return nil, badFlag("response", " %s: workflow %s has no step %q; its http and workflow steps are: %s", name, wf.Name, name,
				strings.Join(answerable, ", "))
		}
		if other, dup := by[label]; dup {
			return nil, usage("--response %s and --response %s answer the same step, %s: give its answers under one name, in the order they are used",
				other, name, label)
		}
		by[label] = name
		out[label] = given[name]
	}
	return out, nil
}

// answers reads --response: what a dry run answers each named step with, in turn.
func (o *localRun) answers(stdin io.Reader) (map[string][]dryAnswer, error) {
	answers := map[string][]dryAnswer{}
	for _, r := range o.responses {
		step, v, ok := strings.Cut(r, "=")
		if !ok || step == "" {
			return nil, badFlag("response", " %q: write it as STEP=[STATUS:]FILE, STEP=[STATUS:]'{…}' or STEP=STATUS", r)
		}
		a, err := parseAnswer(v, stdin)
		if err != nil {
			return nil, badFlag("response", " %s: %v", step, err)
		}
		answers[step] = append(answers[step], a)
	}
	if len(answers) > 0 && !o.dryRun {
		return nil, badFlag("response", " answers steps only in a --dry-run")
	}
	return answers, nil
}

// dryAnswer is what a dry run answers a request with.
type dryAnswer struct {
	status      int
	body        []byte
	contentType string // of a body: JSON when it is, else text
}

// defaultAnswer is what a step without --response gets.
var defaultAnswer = dryAnswer{status: http.StatusOK, body: []byte("{}"), contentType: "application/json"}

// dryTokenAnswer is what an api's OAuth2 token endpoint answers in a dry run.
var dryTokenAnswer = dryAnswer{status: http.StatusOK, contentType: "application/json",
	body: []byte(`{"access_token": "dry-run-token", "token_type": "Bearer", "expires_in": 3600}`)}

// parseAnswer reads [STATUS:]FILE, [STATUS:]{…} or STATUS: a status of three digits,
// then a body, inline when it is JSON (see inlineJSON), else a file (- for standard
// input).
func parseAnswer(v string, stdin io.Reader) (dryAnswer, error) {
	a := dryAnswer{status: http.StatusOK}
	if code, rest, hasBody := strings.Cut(v, ":"); len(code) == 3 && strings.Trim(code, "0123456789") == "" {
		a.status, _ = strconv.Atoi(code)
		if a.status < 100 || a.status > 599 {
			return a, fmt.Errorf("%s is not an HTTP status (100 to 599)", code)
		}
		if !hasBody || rest == "" {
			return a, nil // STEP=404 or STEP=404: answers with no body
		}
		v = rest
	}
	if inlineJSON(v) {
		if !json.Valid([]byte(v)) {
			return a, errors.New("not JSON")
		}
		a.body, a.contentType = []byte(v), "application/json"
		return a, nil
	}
	var err error
	if v == "-" {
		a.body, err = io.ReadAll(io.LimitReader(stdin, actions.MaxResponseBody))
	} else {
		a.body, err = os.ReadFile(v)
	}
	if err != nil {
		return a, err
	}
	switch {
	case len(a.body) == 0:
	case json.Valid(a.body):
		a.contentType = "application/json"
	case strings.EqualFold(filepath.Ext(v), ".xml"):
		a.contentType = "application/xml"
	default:
		a.contentType = "text/plain; charset=utf-8"
	}
	return a, nil
}

// dryRunTransport describes each request instead of sending it, and answers 200 with
// an empty JSON object or the step's --response.
type dryRunTransport struct {
	guard   *actions.Guard         // refuses what a real call would be refused
	redact  func(string) string    // hides the workflow's secrets
	answers map[string][]dryAnswer // by step, named as tests name it (see runStep): the answers to give, in turn

	defaulted atomic.Bool // a step got the default answer

	labels *stepLabels // name the run's steps and its child runs' as tests do

	mu   sync.Mutex
	used map[usedKey]int          // the answers given, by run, step and item
	sent map[sentKey][]dryRequest // the requests each step would have sent
}

// usedKey is what the answers given are counted by: the run (the run, or one of its
// child runs), the step named as tests name it, and the item's key ("" for a step
// without for_each). Each item and each child run is answered from the first answer
// on, as a test's mocks answer it: the items run in any order, and which item got which
// answer of a shared sequence would change from run to run.
type usedKey struct{ run, step, item string }

// sentKey is what a dry run's requests are kept by: the run sending them (the run, or
// one of its child runs), and the step, or step[key] for an item.
type sentKey struct{ run, step string }

// child learns the name tests give the steps of a child run before it starts (it is
// engine.Options.Child): its parent's steps' prefix, then the workflow step's name.
// A workflow step a --response answers gets it as its child's result, as a test's
// mock gives it (a status from 400 fails the step), and starts no child; the others
// run their child, its requests answered here.
func (t *dryRunTransport) child(_ context.Context, call engine.ChildCall) (any, bool, error) {
	label := t.labels.learn(call)
	if len(t.answers[label]) == 0 {
		return nil, false, nil
	}
	a := t.answer(usedKey{call.Run, label, call.Key})
	return childAnswer(a.status, a.body, "--response")
}

// dryRequest is a request a dry run would have sent, as it prints it: its attempt,
// its request line (METHOD URL), then its headers, body and answer.
type dryRequest struct {
	attempt int
	line    string
	rest    string
}

// refused returns the *actions.BlockedError a real call would get for the request's
// host, as a real call dials it (IDNA-mapped, so "127。0。0。1" is 127.0.0.1): an
// address, or a name resolving to one, that --allow-net does not allow. A name that
// does not resolve is let through: the dry run sends nothing anyway.
func (t *dryRunTransport) refused(req *http.Request) error {
	host := actions.DialledHost(req.URL.Hostname())
	addrs := []netip.Addr{}
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		addrs, _ = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	for _, a := range addrs {
		if err := t.guard.Check(a); err != nil {
			return err
		}
	}
	return nil
}

// requests returns, once, what the step of run would have sent, as runs show prints
// what a step sent: each request line with its attempt when there were several.
func (t *dryRunTransport) requests(run, step string) string {
	t.mu.Lock()
	reqs := t.sent[sentKey{run, step}]
	delete(t.sent, sentKey{run, step})
	t.mu.Unlock()
	var b strings.Builder
	for _, q := range reqs {
		fmt.Fprintf(&b, "     → %s%s\n%s", attemptLabel(len(reqs), q.attempt), q.line, q.rest)
	}
	return b.String()
}

// answer is the next answer for a step, an item of it or its step in a child run: its
// answers in turn, the last one again once they run out; the default answer without
// any.
func (t *dryRunTransport) answer(k usedKey) dryAnswer {
	given := t.answers[k.step]
	if len(given) == 0 {
		t.defaulted.Store(true)
		return defaultAnswer
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.used == nil {
		t.used = map[usedKey]int{}
	}
	n := min(t.used[k], len(given)-1)
	t.used[k]++
	return given[n]
}

// readBody reads and closes a request's body, as a transport that answers it itself
// (a dry run's, a test's) must; nil for none.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

func (t *dryRunTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	var used usedKey // answered by the step's name as tests name it, item by item
	key := sentKey{} // requests are printed by step, and an item's by step[key]
	redact, sensitive, attempt := t.redact, false, 1
	if c := actions.CallOf(req); c != nil {
		used = usedKey{run: c.RunID, step: t.labels.label(c.RunID, c.Step)}
		key, attempt = sentKey{c.RunID, c.Step}, max(c.Attempt, 1)
		if c.Item != nil {
			key.step = fmt.Sprintf("%s[%v]", c.Step, c.Item.Key)
			used.item = c.Item.KeyText()
		}
		if c.Secrets != nil {
			redact = c.Secrets.Encoded().String // the run's sensitive values too
		}
		sensitive = c.Sensitive
	}
	var b strings.Builder // the headers, body and answer
	writeHeaders(&b, req.Header, "       ", redact)
	if len(body) > 0 {
		for _, line := range strings.Split(strings.TrimRight(redact(string(body)), "\n"), "\n") {
			fmt.Fprintf(&b, "       %s\n", line)
		}
	}
	refused := t.refused(req)
	var answer dryAnswer
	if refused != nil {
		// Shown all the same: what the step would send is what is being tried.
		fmt.Fprintf(&b, "       (dry run: not sent; refused, as a real run would be: %s)\n", refused)
	} else {
		answer = t.answer(used)
		if actions.IsTokenRequest(req) {
			answer = dryTokenAnswer
		}
		said := "no body"
		if len(answer.body) > 0 {
			said = oneLine(string(answer.body), 60)
		}
		if sensitive {
			said = workflows.SensitiveShown
		}
		fmt.Fprintf(&b, "       (dry run: not sent; answered %d %s)\n", answer.status, said)
	}
	t.mu.Lock()
	if t.sent == nil {
		t.sent = map[sentKey][]dryRequest{}
	}
	t.sent[key] = append(t.sent[key], dryRequest{attempt: attempt, line: req.Method + " " + redact(req.URL.String()), rest: b.String()})
	t.mu.Unlock()
	if refused != nil {
		return nil, refused
	}
	header := http.Header{}
	if answer.contentType != "" {
		header.Set("Content-Type", answer.contentType)
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", answer.status, http.StatusText(answer.status)), StatusCode: answer.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header,
		Body:          io.NopCloser(bytes.NewReader(answer.body)),
		ContentLength: int64(len(answer.body)), Request: req,
	}, nil
}
