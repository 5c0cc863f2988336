package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// recordingStarter stands in for the engine here; the end-to-end tests in cmd/hookflow
// run the same requests against the real engine on Redis.
type recordingStarter struct {
	mu     sync.Mutex
	events map[string][]*workflows.Event // by workflow
	failed map[string]string             // by workflow: the reason of a run that failed at once
	keys   map[string]string             // dedupe key -> run id
	fail   error
	// replies answers Await, by run id; a run without one never answers.
	replies map[string]*workflows.Reply
	replied chan struct{} // closed, and made anew, when a reply is set
}

func (s *recordingStarter) reply(id string, r *workflows.Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replies == nil {
		s.replies = map[string]*workflows.Reply{}
	}
	s.replies[id] = r
	if s.replied != nil {
		close(s.replied) // wakes every Await
	}
	s.replied = make(chan struct{})
}

// Await answers when a reply for id is set, as the engine does when the run answers.
func (s *recordingStarter) Await(ctx context.Context, _ *workflows.Workflow, id string) (*workflows.Reply, error) {
	for {
		s.mu.Lock()
		r, ok := s.replies[id]
		if s.replied == nil {
			s.replied = make(chan struct{})
		}
		replied := s.replied
		s.mu.Unlock()
		if ok {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-replied:
		}
	}
}

func (s *recordingStarter) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, _ time.Duration) (string, bool, error) {
	s.mu.Lock()
	if id, ok := s.keys[wf.Name+"/"+key]; ok {
		s.mu.Unlock()
		return id, false, nil
	}
	s.mu.Unlock()
	id, err := s.Start(ctx, wf, ev)
	if err == nil {
		s.mu.Lock()
		if s.keys == nil {
			s.keys = map[string]string{}
		}
		s.keys[wf.Name+"/"+key] = id
		s.mu.Unlock()
	}
	return id, true, err
}

func (s *recordingStarter) Start(_ context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	s.events[wf.Name] = append(s.events[wf.Name], ev)
	return "run-" + wf.Name, nil
}

func (s *recordingStarter) StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, reason string) (string, error) {
	id, err := s.Start(ctx, wf, ev)
	if err == nil {
		s.mu.Lock()
		s.failed[wf.Name] = reason
		s.mu.Unlock()
	}
	return id, err
}

func (s *recordingStarter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, evs := range s.events {
		n += len(evs)
	}
	return n
}

const hooksSrc = `
workflow "paid" {
  trigger "webhook" {
    path = "/stripe"
  }
  filter = "event.body.type == 'payment_intent.succeeded'"
}

workflow "refunded" {
  trigger "webhook" {
    path = "/stripe"
  }
  filter = "event.body.type == 'charge.refunded' || event.body.also_refund == true"
}

workflow "repo" {
  trigger "webhook" {
    path   = "/repos/{owner}/{name}/events"
    method = "PUT"
  }
  filter = "event.body.n > 1"
}
`

func newTestServer(t *testing.T) (*httptest.Server, *recordingStarter) {
	t.Helper()
	set, diags := loadHooks("hooks.hcl", hooksSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(io.Discard, nil)), func(id string) string { return "http://admin/runs/" + id })
	h.Use(set)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, starter
}

// serveHooks serves the webhooks of one file, named name, starting runs with a
// recordingStarter.
func serveHooks(t *testing.T, name, src string) (*httptest.Server, *recordingStarter) {
	t.Helper()
	srv, starter, _ := serveHooksOf(t, name, src)
	return srv, starter
}

// serveHooksOf is serveHooks that also returns the receiver.
func serveHooksOf(t *testing.T, name, src string) (*httptest.Server, *recordingStarter, *Webhooks) {
	t.Helper()
	h, starter := newHooks(t, name, src)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, starter, h
}

// newHooks is a receiver for the webhooks of one file, starting runs with a
// recordingStarter.
func newHooks(t *testing.T, name, src string) (*Webhooks, *recordingStarter) {
	t.Helper()
	set, diags := loadHooks(name, src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	h.Use(set)
	return h, starter
}

// loadHooks loads one file, named name, with the trigger kinds registered.
func loadHooks(name, src string) (*workflows.Set, hcl.Diagnostics) {
	k := workflows.NewKinds()
	Register(k)
	return workflows.Load([]workflows.Source{{Name: name, Data: []byte(src)}}, k)
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func send(t *testing.T, method, url, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-GitHub-Event", "push")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAnswer(t, resp)
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", resp.Request.Method, resp.Request.URL, err)
	}
	return a
}

func TestWebhookStartsARun(t *testing.T) {
	srv, starter := newTestServer(t)
	a := send(t, "POST", srv.URL+"/hooks/stripe?attempt=2", "application/json", []byte(`{"type": "payment_intent.succeeded", "amount": 1999}`))
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if a.body["run_id"] != "run-paid" || a.body["status_url"] != "http://admin/runs/run-paid" || a.body["run_ids"] != nil {
		t.Errorf("answer %v", a.body)
	}
	ev := starter.events["paid"][0]
	if ev.Trigger != "webhook" || ev.Method != "POST" || ev.Path != "/stripe" || ev.ID == "" || ev.ReceivedAt.IsZero() {
		t.Errorf("event %+v", ev)
	}
	if ev.Headers["x-github-event"] != "push" || ev.Query["attempt"][0] != "2" {
		t.Errorf("headers/query %v %v", ev.Headers, ev.Query)
	}
	if !reflect.DeepEqual(ev.Body, map[string]any{"type": "payment_intent.succeeded", "amount": 1999}) {
		t.Errorf("body %#v", ev.Body)
	}
	if len(starter.events["refunded"]) != 0 {
		t.Error("the other workflow's filter should not have matched")
	}
}

// An event keeps no credential the sender put in a header: it is stored, and shown,
// as [redacted]; other headers are kept as sent.
func TestWebhookEventKeepsNoCredentialHeader(t *testing.T) {
	srv, starter := serveHooks(t, "any.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	req, _ := http.NewRequest("POST", srv.URL+"/hooks/any", strings.NewReader(`{"a": 1}`))
	req.Header.Set("Content-Type", "application/json")
	for _, h := range []string{"Authorization", "X-Api-Key", "X-Acme-Token", "Cookie", "X-Hub-Signature-256", "X-Session-Id"} {
		req.Header.Set(h, "canary-in-"+h)
	}
	req.Header.Set("X-Request-Id", "r-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ev := starter.events["any"][0]
	data, _ := json.Marshal(ev)
	if strings.Contains(string(data), "canary") {
		t.Errorf("the event keeps a credential: %s", data)
	}
	if ev.Headers["x-api-key"] != workflows.Redacted || ev.Headers["x-request-id"] != "r-1" {
		t.Errorf("headers %v", ev.Headers)
	}
}

func TestWebhookSeveralWorkflowsOnOnePath(t *testing.T) {
	srv, starter := newTestServer(t)
	a := send(t, "POST", srv.URL+"/hooks/stripe", "application/json", []byte(`{"type": "payment_intent.succeeded", "also_refund": true}`))
	if a.status != http.StatusAccepted || !reflect.DeepEqual(a.body["run_ids"], []any{"run-paid", "run-refunded"}) {
		t.Errorf("answer %d %v", a.status, a.body)
	}
	if starter.count() != 2 {
		t.Errorf("%d runs, want 2", starter.count())
	}
}

func TestWebhookPathParameters(t *testing.T) {
	srv, starter := newTestServer(t)
	a := send(t, "PUT", srv.URL+"/hooks/repos/hookflow/engine/events/", "application/json", []byte(`{"n": 2}`))
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	if p := starter.events["repo"][0].Params; !reflect.DeepEqual(p, map[string]string{"owner": "hookflow", "name": "engine"}) {
		t.Errorf("params %v", p)
	}
}

func TestWebhookAnswers(t *testing.T) {
	srv, starter := newTestServer(t)
	big := []byte(`{"type": "` + strings.Repeat("x", DefaultMaxBody) + `"}`)
	tests := []struct {
		name, method, path, contentType string
		body                            []byte
		status                          int
		says                            string
	}{
		{"filtered", "POST", "/hooks/stripe", "application/json", []byte(`{"type": "customer.created"}`), 200, `"status":"filtered"`},
		{"unknown path", "POST", "/hooks/nope", "application/json", []byte(`{}`), 404, "no webhook at /hooks/nope"},
		{"not under /hooks", "POST", "/hooksstripe", "application/json", []byte(`{}`), 404, "no webhook"},
		{"parameter segment missing", "PUT", "/hooks/repos/a/events", "application/json", []byte(`{}`), 404, "no webhook"},
		{"wrong method", "GET", "/hooks/stripe", "", nil, 405, "GET is not accepted at /hooks/stripe"},
		{"malformed JSON", "POST", "/hooks/stripe", "application/json", []byte(`{"type": `), 400, "invalid JSON"},
		{"too deep", "POST", "/hooks/stripe", "application/json", []byte(strings.Repeat("[", 20000)), 400, "deeper than 64"},
		{"too large", "POST", "/hooks/stripe", "application/json", big, 413, "larger than 1048576 bytes"},
		{"binary", "POST", "/hooks/stripe", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00\xff"), 415, "a body of type image/png must be UTF-8 text"},
		{"malformed content type", "POST", "/hooks/stripe", "application/json; =", []byte(`{}`), 400, "content type"},
		{"form that looks like JSON but is not", "POST", "/hooks/stripe", "application/x-www-form-urlencoded", []byte(`{"name":"Ada",email:"x"}`), 400,
			`malformed body: it looks like JSON but is not: invalid character 'e' looking for beginning of object key string (at byte 14); send it with Content-Type: application/json`},
		{"JSON not UTF-8", "POST", "/hooks/stripe", "application/json", []byte("{\"type\": \"caf\xe9\"}"), 400, "not valid UTF-8"},
		{"query with a bad escape", "POST", "/hooks/stripe?a=%zz&b=2", "application/json", []byte(`{}`), 400, `"malformed query string: invalid URL escape"`},
		{"query with a semicolon", "POST", "/hooks/stripe?a=1;b=2&c=3", "application/json", []byte(`{}`), 400, "malformed query string: invalid semicolon separator in query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, tt.method, srv.URL+tt.path, tt.contentType, tt.body)
			data, _ := json.Marshal(a.body)
			if a.status != tt.status || !strings.Contains(string(data), tt.says) {
				t.Errorf("got %d %s, want %d saying %q", a.status, data, tt.status, tt.says)
			}
			if tt.status == 405 && a.header.Get("Allow") != "POST" {
				t.Errorf("Allow: %q", a.header.Get("Allow"))
			}
		})
	}
	if starter.count() != 0 {
		t.Errorf("%d runs started, want none", starter.count())
	}
}

// TestWebhookTextBodies: a body of a type hookflow does not parse is kept as text.
func TestWebhookTextBodies(t *testing.T) {
	srv, starter := serveHooks(t, "text.hcl", `
workflow "any" {
  trigger "webhook" {
    path = "/any"
  }
}`)
	for ct, body := range map[string]string{
		"text/xml":                  "<order id=\"1\"/>",
		"application/octet-stream":  "plain words",
		"":                          "not JSON {",
		"text/plain; charset=utf-8": "héllo",
	} {
		if a := send(t, "POST", srv.URL+"/hooks/any", ct, []byte(body)); a.status != http.StatusAccepted {
			t.Errorf("%q: got %d %v", ct, a.status, a.body)
		}
		evs := starter.events["any"]
		if got := evs[len(evs)-1].Body; got != body {
			t.Errorf("%q: body %#v, want the text", ct, got)
		}
	}
}

// TestWebhookLargeBodiesKeepMemoryFlat: bodies three times the limit are refused with
// 413, and memory does not grow with them. One that declares its length is refused
// before it is read; a chunked one after reading up to the limit.
func TestWebhookLargeBodiesKeepMemoryFlat(t *testing.T) {
	srv, starter := newTestServer(t)
	body := bytes.Repeat([]byte("x"), 3<<20)
	for _, tt := range []struct {
		name    string
		chunked bool
		most    uint64 // bytes allocated per refused request, at most
	}{
		// Reading up to the 1 MiB limit allocates about twice that, as the buffer
		// grows by doubling (more under the race detector); a server that read the
		// whole body would take 8 MiB or so.
		{"chunked", true, 5 << 20},
		{"with Content-Length", false, 256 << 10}, // connections and the client's buffers
	} {
		t.Run(tt.name, func(t *testing.T) {
			post := func() {
				req, _ := http.NewRequest("POST", srv.URL+"/hooks/stripe", bytes.NewReader(body))
				if tt.chunked {
					req.ContentLength = -1
					req.Body = io.NopCloser(bytes.NewReader(body))
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server may close the connection before the client sent it all
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("got %d", resp.StatusCode)
				}
			}
			post() // warm up: connections, buffers
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			const n = 30
			for range n {
				post()
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perRequest := (after.TotalAlloc - before.TotalAlloc) / n
			if perRequest > tt.most {
				t.Errorf("%d bytes allocated per 3 MiB request refused, want at most %d", perRequest, tt.most)
			}
			if growth := int64(after.HeapInuse) - int64(before.HeapInuse); growth > 8<<20 {
				t.Errorf("heap grew by %d bytes over %d refused requests", growth, n)
			}
			t.Logf("%d KiB allocated per refused request, heap in use %+d KiB", perRequest>>10,
				(int64(after.HeapInuse)-int64(before.HeapInuse))>>10)
		})
	}
	if starter.count() != 0 {
		t.Errorf("%d runs started", starter.count())
	}
}

// TestWebhookFilterError: a filter that cannot be evaluated on the event (here, a
// string compared with a number) records a failed run that keeps the event.
func TestWebhookFilterError(t *testing.T) {
	srv, starter := newTestServer(t)
	a := send(t, "PUT", srv.URL+"/hooks/repos/a/b/events", "application/json", []byte(`{"n": "x"}`))
	if a.status != http.StatusAccepted || a.body["run_id"] != "run-repo" {
		t.Errorf("got %d %v", a.status, a.body)
	}
	if reason := starter.failed["repo"]; !strings.HasPrefix(reason, "filter: event.body.n > 1: ") {
		t.Errorf("failure reason %q", reason)
	}
}

func TestWebhookCannotQueue(t *testing.T) {
	srv, starter := newTestServer(t)
	starter.fail = errors.New("redis: connection refused")
	a := send(t, "POST", srv.URL+"/hooks/stripe", "application/json", []byte(`{"type": "payment_intent.succeeded"}`))
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("got %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if strings.Contains(a.body["error"].(string), "redis") {
		t.Errorf("internal errors should not reach the sender: %v", a.body)
	}
	// Why, when the sender can act on it.
	for err, says := range map[error]string{
		fmt.Errorf("queueing: %w", busyErr{}):   "too many runs are unfinished: queued, running or waiting (at a wait step",
		fmt.Errorf("queueing: %w", storedErr{}): "the event is stored, but too few Redis replicas acknowledged it",
		fmt.Errorf("queueing: %w", maybeErr{}):  "Redis did not answer, so the event may be stored and may run",
	} {
		starter.fail = err
		a := send(t, "POST", srv.URL+"/hooks/stripe", "application/json", []byte(`{"type": "payment_intent.succeeded"}`))
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body["error"].(string), says) {
			t.Errorf("%v: %d %v, want 503 saying %q", err, a.status, a.body, says)
		}
	}
}

type busyErr struct{}

func (busyErr) Error() string { return "busy" }
func (busyErr) Busy() bool    { return true }

type maybeErr struct{}

func (maybeErr) Error() string     { return "no answer" }
func (maybeErr) MaybeStored() bool { return true }

type storedErr struct{}

func (storedErr) Error() string { return "not replicated" }
func (storedErr) Stored() bool  { return true }

func TestWebhookLoadErrors(t *testing.T) {
	tests := map[string]string{
		`path = "stripe"`:                  "must start with /",
		`path = "/a?b=1"`:                  "holds a query",
		`path = "/"`:                       "must name something below /hooks",
		`path = "/a//b"`:                   "empty segment",
		`path = "/a\\b"`:                   "holds a backslash",
		`path = "/a/{b-c}"`:                "not a valid parameter name",
		`path = "/a/{b}/{b}"`:              "names {b} twice",
		`path = "/a/x{b}"`:                 "must be a whole segment",
		`path = "/{{ event.x }}"`:          "path cannot use {{ }}",
		"path = \"/a\"\nmethod = \"GETT\"": `Unsupported webhook method "GETT"`,
		`method = "POST"`:                  `The argument "path" is required`,
	}
	for attrs, want := range tests {
		src := "workflow \"w\" {\n  trigger \"webhook\" {\n" + attrs + "\n  }\n}"
		_, diags := loadHooks("t.hcl", src)
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("%s:\n got %s\nwant %q", attrs, diags.Error(), want)
		}
	}
}

const syncPathSrc = `
workflow "audit" {
  trigger "webhook" {
    path = "/s"
  }
}

workflow "lookup" {
  trigger "webhook" {
    path             = "/s"
    response         = "sync"
    response_timeout = "%s"
  }
}
`

// TestSyncOnASharedPath: the sync workflow's run is the one answered with, or named
// first in the 202 when it did not answer in time. Every answer, and every refusal,
// says X-Content-Type-Options: nosniff.
func TestSyncOnASharedPath(t *testing.T) {
	srv, starter := serveHooks(t, "s.hcl", fmt.Sprintf(syncPathSrc, "100ms"))
	var answers []answer
	a := send(t, "POST", srv.URL+"/hooks/s", "application/json", []byte(`{}`))
	answers = append(answers, a)
	if a.status != http.StatusAccepted || a.body["run_id"] != "run-lookup" || a.header.Get("Hookflow-Run-Id") != "run-lookup" {
		t.Errorf("timed out: got %d %v %v", a.status, a.header, a.body)
	}
	if ids, _ := a.body["run_ids"].([]any); len(ids) != 2 {
		t.Errorf("run_ids %v, want both runs", a.body["run_ids"])
	}
	starter.reply("run-lookup", &workflows.Reply{RunID: "run-lookup", Status: "failed"})
	a = send(t, "POST", srv.URL+"/hooks/s", "application/json", []byte(`{}`))
	answers = append(answers, a)
	if a.status != http.StatusInternalServerError || a.body["status"] != "failed" || a.body["run_id"] != "run-lookup" {
		t.Errorf("failed: got %d %v", a.status, a.body)
	}
	starter.reply("run-lookup", &workflows.Reply{RunID: "run-lookup", Status: "succeeded"})
	a = send(t, "POST", srv.URL+"/hooks/s", "application/json", []byte(`{}`))
	answers = append(answers, a)
	if a.status != http.StatusOK || a.body["status"] != "succeeded" {
		t.Errorf("no step ran: got %d %v", a.status, a.body)
	}
	answers = append(answers, send(t, "POST", srv.URL+"/hooks/nowhere", "application/json", []byte(`{}`)),
		send(t, "PUT", srv.URL+"/hooks/s", "application/json", []byte(`{}`)))
	for i, a := range answers {
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("answer %d (%d) says X-Content-Type-Options %q, want nosniff", i, a.status, got)
		}
	}
}

// TestSyncAnswerOutlivesTheWriteTimeout: a run that answers within response_timeout
// is answered even when that is past the server's write timeout, which counts from
// the request's headers.
func TestSyncAnswerOutlivesTheWriteTimeout(t *testing.T) {
	h, starter := newHooks(t, "s.hcl", fmt.Sprintf(syncPathSrc, "3s"))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	time.AfterFunc(600*time.Millisecond, func() {
		starter.reply("run-lookup", &workflows.Reply{RunID: "run-lookup", Status: "succeeded"})
	})
	a := send(t, "POST", srv.URL+"/hooks/s", "application/json", []byte(`{}`))
	if a.status != http.StatusOK || a.body["status"] != "succeeded" {
		t.Errorf("got %d %v", a.status, a.body)
	}
}

// TestSyncWaitsEndOnDrain: a shutdown answers the sync webhooks waiting with 202.
func TestSyncWaitsEndOnDrain(t *testing.T) {
	srv, _, h := serveHooksOf(t, "s.hcl", fmt.Sprintf(syncPathSrc, "40s"))
	time.AfterFunc(200*time.Millisecond, h.Drain)
	a := send(t, "POST", srv.URL+"/hooks/s", "application/json", []byte(`{}`))
	if a.status != http.StatusAccepted || a.body["run_id"] != "run-lookup" {
		t.Errorf("got %d %v", a.status, a.body)
	}
}

// A body the sender compressed (Content-Encoding: gzip) is refused with 415 and a
// reason, before it is read, and the answer says what is accepted; identity is plain.
func TestWebhookCompressedBody(t *testing.T) {
	srv, starter := newTestServer(t)
	for _, c := range []struct {
		encoding string
		status   int
	}{{"gzip", 415}, {"br", 415}, {"identity", 200}} {
		req, err := http.NewRequest("POST", srv.URL+"/hooks/stripe", strings.NewReader(`{"type": "customer.created"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", c.encoding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("Content-Encoding %s: %d %s, want %d", c.encoding, resp.StatusCode, body, c.status)
		}
		if c.status == 415 && (!strings.Contains(string(body), "Content-Encoding "+c.encoding+" is not accepted") || resp.Header.Get("Accept-Encoding") != "identity") {
			t.Errorf("Content-Encoding %s: %s, Accept-Encoding %q", c.encoding, body, resp.Header.Get("Accept-Encoding"))
		}
	}
	if starter.count() != 0 {
		t.Errorf("%d runs started, want none", starter.count())
	}
}
