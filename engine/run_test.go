package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func TestViewsRedactCredentials(t *testing.T) {
	ev := &workflows.Event{ID: "e", Trigger: "webhook", ReceivedAt: time.Now(), Headers: map[string]string{
		"authorization":             "Bearer s3cret",
		"x-hub-signature-256":       "sha256=abc",
		"x-shopify-hmac-sha256":     "abc=",
		"x-auth-key":                "k",
		"x-api-key":                 "k",
		"cookie":                    "session=1",
		"content-type":              "application/json",
		"idempotency-key":           "r:s",
		"x-github-delivery":         "d1",
		"x-functions-key":           "k",
		"ocp-apim-subscription-key": "k",
		"paypal-transmission-sig":   "s",
	}}
	ev.Body = map[string]any{"user": "ada", "password": "p4ss", "auth": map[string]any{"refresh_token": "rt"},
		"items": []any{map[string]any{"api_key": "k", "sku": "A1"}},
		"card":  map[string]any{"cardNumber": "4242424242424242", "pin": 1234, "pinned": true}}
	ev.Path = "/in/s3cr3t-path-token" // a webhook's path may hold a secret
	ev.Query = map[string][]string{"token": {"tok-1a2b3c"}, "api_key": {"k1", "k2"}, "page": {"2"},
		"ref": {"s3cr3t-path-token"}}
	v := eventView(ev, (*workflows.Redactor)(nil).Plus("s3cr3t-path-token").Encoded())
	if v.Path != "/in/[redacted]" {
		t.Errorf("path %q, want its secret [redacted]", v.Path)
	}
	wantQuery := map[string][]string{"token": {redacted}, "api_key": {redacted, redacted}, "page": {"2"},
		"ref": {redacted}}
	if !reflect.DeepEqual(v.Query, wantQuery) {
		t.Errorf("query %#v", v.Query)
	}
	if ev.Query["token"][0] != "tok-1a2b3c" {
		t.Error("the view changed the event's query that steps read")
	}
	wantBody := map[string]any{"user": "ada", "password": redacted, "auth": redacted,
		"items": []any{map[string]any{"api_key": redacted, "sku": "A1"}},
		"card":  map[string]any{"cardNumber": redacted, "pin": redacted, "pinned": true}}
	if !reflect.DeepEqual(v.Body, wantBody) {
		t.Errorf("body %#v", v.Body)
	}
	if ev.Body.(map[string]any)["password"] != "p4ss" {
		t.Error("the view changed the event that steps read")
	}
	for name, want := range map[string]string{
		"authorization": redacted, "x-hub-signature-256": redacted, "x-shopify-hmac-sha256": redacted,
		"x-auth-key": redacted, "x-api-key": redacted, "cookie": redacted, "x-functions-key": redacted,
		"ocp-apim-subscription-key": redacted, "paypal-transmission-sig": redacted,
		"content-type": "application/json", "idempotency-key": "r:s", "x-github-delivery": "d1",
	} {
		if v.Headers[name] != want {
			t.Errorf("%s: %q, want %q", name, v.Headers[name], want)
		}
	}

	res := Record{Status: StatusSucceeded, Output: []byte(`{"status": 200, "headers": {"set-cookie": "sid=1", "content-type": "text/plain", "www-authenticate": "Bearer error=\"insufficient_scope\""}, "body": "ok"}`)}
	out := res.view("login", "login").Output
	want := map[string]any{"status": 200, "headers": map[string]any{"set-cookie": redacted, "content-type": "text/plain",
		"www-authenticate": `Bearer error="insufficient_scope"`}, "body": "ok"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("output %#v", out)
	}
}

// EventBody is the event's body as the history shows it, in the bytes that send it
// again: a text body as it came, anything else (a JSON string too) as compact JSON with
// its credential fields [redacted] and its numbers as written, digit for digit. Sent
// again with the event's content type, those bytes parse, to a value of the same kind.
func TestEventBody(t *testing.T) {
	tests := []struct {
		name, contentType, raw, want string
	}{
		{"json", "application/json",
			`{"user": "ada", "password": "p4ss", "n": 12345678901234567890123, "f": 1.50, "items": [{"api_key": "k", "sku": "A1"}], "note": "a<b&c\u00e9"}`,
			`{"f":1.50,"items":[{"api_key":"[redacted]","sku":"A1"}],"n":12345678901234567890123,"note":"a<b&cé","password":"[redacted]","user":"ada"}`},
		// A JSON string stays one: hi is not JSON, and {"a":1} would be an object.
		{"a JSON string", "application/json", `"hi"`, `"hi"`},
		{"a JSON string of JSON", "application/json; charset=utf-8", `"{\"a\":1}"`, `"{\"a\":1}"`},
		{"a JSON string with escapes", "application/vnd.github+json", ` "a\u00e9\n" `, `"aé\n"`},
		{"a JSON number", "application/json", `1.50`, `1.50`},
		// A text body is sent as it came, quotes and all.
		{"a quoted text", "text/plain", `"hi"`, `"hi"`},
		{"form", "application/x-www-form-urlencoded", "token=t&n=1.0", `{"n":"1.0","token":"[redacted]"}`},
		{"text", "text/plain", "line\n{\"password\": \"x\"}\n", "line\n{\"password\": \"x\"}\n"},
		{"no content type", "", `"hi"`, `"hi"`},
		{"empty", "application/json", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EventBody(&workflows.Event{ID: "e1", ContentType: tt.contentType, Raw: tt.raw})
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q (%v), want %q", got, err, tt.want)
			}
			sent, _ := workflows.ParseBody(tt.contentType, []byte(tt.raw))
			again, err := workflows.ParseBody(tt.contentType, got)
			if err != nil || reflect.TypeOf(again) != reflect.TypeOf(sent) {
				t.Errorf("%q sent again as %s: %#v (%v), want a %T", got, tt.contentType, again, err, sent)
			}
		})
	}
	// A number no float64 holds is refused, as the event that holds it cannot be read.
	if got, err := EventBody(&workflows.Event{ID: "e1", ContentType: "application/json", Raw: `[1e400]`}); err == nil {
		t.Errorf("a number past float64: %q, want an error", got)
	}
}

// A delay step's hold is read from its output's seconds however the answer was decoded:
// the CLI decodes the admin API's with UseNumber.
func TestStepRunDelayFromAnAnswer(t *testing.T) {
	const answer = `{"name": "pause", "kind": "delay", "status": "succeeded", "output": {"until": "2026-12-04T10:00:00Z", "seconds": 60}}`
	for _, useNumber := range []bool{false, true} {
		dec := json.NewDecoder(strings.NewReader(answer))
		if useNumber {
			dec.UseNumber()
		}
		var s StepRun
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		if ms, skipped, ok := s.Delay(); !ok || skipped || ms != 60000 {
			t.Errorf("UseNumber %v: %d ms, skipped %v, ok %v; want 60000 ms", useNumber, ms, skipped, ok)
		}
	}
}

// A settled delay shows waiting, until its time, only while it holds its run: its time
// is to come, it waited for something, and no step after it has started.
func TestHoldingDelays(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	delay := func(until time.Time, skipped bool) StepRun {
		out := map[string]any{"until": until.Format(time.RFC3339), "seconds": 60.0}
		if skipped {
			out["skipped"] = true
		}
		d, settled := int64(0), until.Add(-time.Minute) // the next step is due its seconds after
		return StepRun{Name: "hold", Path: "hold", Kind: "delay", Status: StatusSucceeded, Output: out, FinishedAt: &settled, DurationMS: &d}
	}
	later := func(s Status) StepRun { return StepRun{Name: "after", Path: "after", Kind: "log", Status: s} }
	soon := now.Add(time.Minute)
	cases := []struct {
		name  string
		steps []StepRun
		want  Status
	}{
		{"holds the run", []StepRun{delay(soon, false), later(StatusPending)}, StatusWaiting},
		{"its time passed", []StepRun{delay(now.Add(-time.Second), false), later(StatusPending)}, StatusSucceeded},
		{"a step after it started", []StepRun{delay(soon, false), later(StatusRunning)}, StatusSucceeded},
		{"skipped by a dry run", []StepRun{delay(soon, true), later(StatusPending)}, StatusSucceeded},
	}
	for _, c := range cases {
		holdingDelays(c.steps, now)
		s := c.steps[0]
		if s.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, s.Status, c.want)
			continue
		}
		if c.want == StatusWaiting && (s.NextAttemptAt == nil || !s.NextAttemptAt.Equal(soon) || s.FinishedAt != nil || s.DurationMS != nil) {
			t.Errorf("%s: goes on at %v, finished %v, want %v and not finished", c.name, s.NextAttemptAt, s.FinishedAt, soon)
		}
	}
}

// A settled delay that held its run when the run ended, failed or cancelled, shows
// cancelled, its time to the run's end; one whose time had passed shows succeeded.
func TestCutDelays(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	delay := func() []StepRun {
		out := map[string]any{"until": start.Add(time.Minute).Format(time.RFC3339), "seconds": 60.0}
		d := int64(0)
		return []StepRun{{Name: "hold", Path: "hold", Kind: "delay", Status: StatusSucceeded, Output: out,
			StartedAt: &start, FinishedAt: &start, DurationMS: &d}, {Name: "after", Path: "after", Status: StatusPending}}
	}
	cancelled := start.Add(3 * time.Second)
	steps := delay()
	cutDelays(steps, &cancelled)
	if s := steps[0]; s.Status != StatusCancelled || s.FinishedAt == nil || !s.FinishedAt.Equal(cancelled) || msOf(s.DurationMS) != int64(3000) {
		t.Errorf("cut: %s, finished %v, %v ms; want cancelled at %v, 3000 ms", s.Status, s.FinishedAt, msOf(s.DurationMS), cancelled)
	}
	late := start.Add(2 * time.Minute)
	steps = delay()
	cutDelays(steps, &late)
	if s := steps[0]; s.Status != StatusSucceeded {
		t.Errorf("its time passed before the run ended: %s, want succeeded", s.Status)
	}
}
