package actions

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func TestSet(t *testing.T) {
	step := loadStep(t, nil, `
  step "set" "totals" {
    net   = "{{ event.body.amount / 100 }}"
    label = "order {{ event.body.id }}"
    tags  = ["a", "{{ event.body.id }}"]
    fixed = 3
  }`)
	out, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"amount": 1999, "id": "o1"}}})
	want := map[string]any{"net": 19.99, "label": "order o1", "tags": []any{"a", "o1"}, "fixed": 3}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Errorf("got %#v, %v", out, err)
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	k := workflows.NewKinds()
	Register(k, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	t.Setenv("HOOKFLOW_TEST_TOKEN", "tok-123")
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
vars {
  token = secret("HOOKFLOW_TEST_TOKEN")
}
workflow "w" {
  step "log" "note" {
    message = "order {{ event.body.id }} with ${vars.token}"
    level   = "warn"
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	out, err := wf.Steps[0].Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "o1"}}},
		RunID: "r1", Workflow: "w", Step: "note", Secrets: wf.Secrets})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, map[string]any{"message": "order o1 with [redacted]", "level": "warn"}) {
		t.Errorf("output %#v", out)
	}
	line := buf.String()
	if !strings.Contains(line, `level=WARN msg="order o1 with [redacted]" workflow=w run=r1 step=note`) || strings.Contains(line, "tok-123") {
		t.Errorf("log line %q", line)
	}
}

func TestDelay(t *testing.T) {
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{
		"wait": "90s", "secs": 30, "long": "400d", "at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "past": "2020-01-01T00:00:00Z",
	}}}
	for attrs, want := range map[string]time.Duration{
		`duration = "2d"`:                    48 * time.Hour,
		`duration = "{{ event.body.wait }}"`: 90 * time.Second,
		`duration = "{{ event.body.secs }}"`: 30 * time.Second,
		`until = "{{ event.body.past }}"`:    0,
		// A duration is its text, 1h30m0s, which a delay reads back.
		`duration = "{{ duration('90m') }}"`:                         90 * time.Minute,
		`duration = "{{ string(duration('1h') + duration('1s')) }}"`: time.Hour + time.Second,
	} {
		out, err := call(loadStep(t, nil, "step \"delay\" \"d\" {\n"+attrs+"\n}"), env)
		if err != nil {
			t.Fatalf("%s: %v", attrs, err)
		}
		if w := out.(*workflows.Wait); w.For != want {
			t.Errorf("%s: waits %v, want %v", attrs, w.For, want)
		}
	}
	out, err := call(loadStep(t, nil, "step \"delay\" \"d\" {\nuntil = \"{{ event.body.at }}\"\n}"), env)
	if w := out.(*workflows.Wait); err != nil || w.For < 59*time.Minute || w.For > time.Hour {
		t.Errorf("until an hour from now waits %v, %v", w.For, err)
	}
	if _, err := call(loadStep(t, nil, "step \"delay\" \"d\" {\nduration = \"{{ event.body.at }}\"\n}"), env); err == nil {
		t.Error("a timestamp as a duration should fail")
	}
	// A delay written out in the file is checked when it loads; one from the event,
	// when it runs.
	if _, err := call(loadStep(t, nil, "step \"delay\" \"d\" {\nduration = \"{{ event.body.long }}\"\n}"), env); err == nil || !strings.Contains(err.Error(), "a delay of 400d is longer than the limit of 365d") {
		t.Errorf("a delay over a year: %v", err)
	}
}

func TestRespond(t *testing.T) {
	step := loadStep(t, nil, `
  step "respond" "answer" {
    status  = 201
    headers = { "X-Order" = "{{ event.body.id }}" }
    json    = { ok = true, id = "{{ event.body.id }}" }
  }`)
	out, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "o1"}}})
	want := map[string]any{"status": 201, "headers": map[string]any{"X-Order": "o1", "Content-Type": "application/json"},
		"body": map[string]any{"ok": true, "id": "o1"}}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Errorf("got %#v, %v", out, err)
	}
	out, _ = call(loadStep(t, nil, "step \"respond\" \"a\" {\nbody = \"ok\"\n}"), &workflows.Env{})
	if !reflect.DeepEqual(out, map[string]any{"status": 200, "headers": map[string]any{}, "body": "ok"}) {
		t.Errorf("defaults: %#v", out)
	}
}

// TestRespondResponse: the answer a sync webhook sends from a respond step's output,
// read back from the run's record as JSON.
func TestRespondResponse(t *testing.T) {
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "o1", "bad": "a\r\nX-Injected: 1", "code": "202",
		"headers": map[string]any{"Bad Name": "v"}}}}
	answer := func(src string) (int, http.Header, string) {
		t.Helper()
		step := loadStep(t, nil, src)
		out, err := call(step, env)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(out)
		recorded, _ := workflows.DecodeJSON(data)
		status, header, body, err := step.Action.(workflows.Responder).Response(recorded)
		if err != nil {
			t.Fatal(err)
		}
		return status, header, string(body)
	}
	status, header, body := answer(`step "respond" "r" {
    status  = 201
    headers = { X-Order = "{{ event.body.id }}", Content-Length = "1", Connection = "close" }
    json    = { id = "{{ event.body.id }}", n = 12345678901234567 }
  }`)
	if status != 201 || header.Get("X-Order") != "o1" || header.Get("Content-Type") != "application/json" ||
		body != `{"id":"o1","n":12345678901234567}` {
		t.Errorf("json: %d %v %s", status, header, body)
	}
	if header.Get("Content-Length") != "" || header.Get("Connection") != "" {
		t.Errorf("framing headers are the server's: %v", header)
	}
	status, header, body = answer(`step "respond" "r" { body = "<b>{{ event.body.id }}</b>" }`)
	if status != 200 || header.Get("Content-Type") != "text/plain; charset=utf-8" || body != "<b>o1</b>" {
		t.Errorf("body: %d %v %s", status, header, body)
	}
	_, header, body = answer(`step "respond" "r" {
    headers = { Content-Type = "text/html" }
    body    = "<b>hi</b>"
  }`)
	if header.Get("Content-Type") != "text/html" || body != "<b>hi</b>" {
		t.Errorf("own content type: %v %s", header, body)
	}
	if status, _, _ = answer(`step "respond" "r" { status = "{{ event.body.code }}" }`); status != 202 {
		t.Errorf("a status written as text: %d", status)
	}
	_, _, body = answer(`step "respond" "r" { json = "a string" }`)
	if body != `"a string"` {
		t.Errorf("a JSON string: %s", body)
	}
	for _, src := range []string{
		`step "respond" "r" { headers = { X-Bad = "{{ event.body.bad }}" } }`,
		`step "respond" "r" { headers = "{{ event.body.headers }}" }`,
	} {
		if _, err := call(loadStep(t, nil, src), env); err == nil || isRetryable(err) {
			t.Errorf("%s: %v, want a permanent failure", src, err)
		}
	}
}

// A respond step's header given a list is answered with every value, one line each,
// as an http step sends it; each value is checked.
func TestRespondHeaderWithSeveralValues(t *testing.T) {
	step := loadStep(t, nil, `step "respond" "r" { headers = { X-V = "{{ event.body.v }}", X-One = ["only"] } }`)
	out, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"v": []any{"a", "b c", 1, nil, true}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"X-V": []any{"a", "b c", "1", "", "true"}, "X-One": "only"}
	if got := out.(map[string]any)["headers"]; !reflect.DeepEqual(got, want) {
		t.Errorf("output headers %#v, want %#v", got, want)
	}
	data, _ := json.Marshal(out)
	recorded, _ := workflows.DecodeJSON(data) // as the run's record gives it back
	_, header, _, err := step.Action.(workflows.Responder).Response(recorded)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := header.Values("X-V"), []string{"a", "b c", "1", "", "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("answered X-V %q, want %q", got, want)
	}
	if got := header.Values("X-One"); !reflect.DeepEqual(got, []string{"only"}) {
		t.Errorf("answered X-One %q", got)
	}
	_, err = call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"v": []any{"a", "b\r\nX-Injected: 1"}}}})
	if err == nil || !strings.Contains(err.Error(), "X-V: value holds a line break") || isRetryable(err) {
		t.Errorf("a line break in the second value: %v, want a permanent failure", err)
	}
}

func TestKindLoadErrors(t *testing.T) {
	tests := map[string]string{
		`step "set" "s" {}`: "set has no values",
		`step "log" "l" {}`: `The argument "message" is required`,
		"step \"log\" \"l\" {\nmessage = \"x\"\nlevel = \"loud\"\n}": `"debug", "info", "warn" or "error"`,
		`step "delay" "d" {}`: "delay needs duration or until",
		"step \"delay\" \"d\" {\nduration = \"1m\"\nuntil = \"x\"\n}":     "Both duration and until are set",
		`step "delay" "d" { duration = "soon" }`:                          `"soon" is not a duration`,
		`step "delay" "d" { until = "tomorrow" }`:                         `"tomorrow" is not an RFC 3339 time`,
		`step "delay" "d" { duration = "400d" }`:                          "A delay step waits 365d at most, and this one would wait 400d",
		`step "delay" "d" { duration = 31708800 }`:                        "A delay step waits 365d at most, and this one would wait 367d",
		`step "delay" "d" { until = "2999-01-01T00:00:00Z" }`:             "A delay step waits 365d at most, and 2999-01-01T00:00:00Z is further away",
		`step "respond" "r" { status = 700 }`:                             "A status is a whole number from 200 to 599",
		"step \"respond\" \"r\" {\njson = {}\nbody = \"x\"\n}":            "Both json and body are set",
		`step "respond" "r" { headers = { "Bad Name" = "v" } }`:           `"Bad Name" is not a valid header name`,
		`step "respond" "r" { headers = { X = "a\nb" } }`:                 "The value of header X holds a line break",
		`step "respond" "r" { headers = { "{{ event.body.n }}" = "v" } }`: "the {{ }} of a name is not rendered",
	}
	expectLoadErrors(t, tests)
}

func isRetryable(err error) bool {
	retry, _ := workflows.Retryable(err)
	return retry
}
