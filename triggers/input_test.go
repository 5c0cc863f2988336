package triggers

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// openHooks takes every request at /hooks/open (POST), /hooks/ping (GET) and
// /hooks/del (DELETE), with no filter: what a request is refused for is its own shape, never a filter's choice.
const openHooks = `
workflow "open" {
  trigger "webhook" {
    path = "/open"
  }
}

workflow "ping" {
  trigger "webhook" {
    path   = "/ping"
    method = "GET"
  }
}

workflow "del" {
  trigger "webhook" {
    path   = "/del"
    method = "DELETE"
  }
}`

// lastEvent is the event of the last run of workflow wf, or nil.
func (s *recordingStarter) lastEvent(wf string) *workflows.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.events[wf]
	if len(evs) == 0 {
		return nil
	}
	return evs[len(evs)-1]
}

// A query whose names or values are not UTF-8 once decoded is refused, as such a path
// and such a form body are, rather than taken with U+FFFD in their place; the reason
// names the parameter, never its value.
func TestWebhookQueryNotUTF8(t *testing.T) {
	srv, starter := serveHooks(t, "open.hcl", openHooks)
	for _, tt := range []struct{ name, query, says string }{
		{"value", "?a=%ff", `malformed query string: the value of parameter "a" is not valid UTF-8 once its %-escapes are decoded`},
		{"name", "?%ff=1", `malformed query string: a parameter's name is not valid UTF-8`},
		{"one value of several", "?id=1&note=caf%e9&note=ok", `the value of parameter "note" is not valid UTF-8`},
		{"a raw byte", "?a=\xff", `the value of parameter "a" is not valid UTF-8`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, "POST", srv.URL+"/hooks/open"+tt.query, "application/json", []byte(`{}`))
			if msg, _ := a.body["error"].(string); a.status != http.StatusBadRequest || !strings.Contains(msg, tt.says) {
				t.Errorf("got %d %v, want 400 saying %q", a.status, a.body, tt.says)
			}
		})
	}
	if n := starter.count(); n != 0 {
		t.Errorf("%d runs started, want none", n)
	}
}

// A query's control characters (a line break, a NUL) are taken as sent, as a form
// body's and a JSON body's are: a query is data; only a path, which routes the
// request, refuses them.
func TestWebhookQueryControlCharactersKept(t *testing.T) {
	srv, starter := serveHooks(t, "open.hcl", openHooks)
	a := send(t, "POST", srv.URL+"/hooks/open?a=%00&b=line%0Abreak&c=%E2%9C%93", "application/json", []byte(`{}`))
	if a.status != http.StatusAccepted {
		t.Fatalf("got %d %v", a.status, a.body)
	}
	want := map[string][]string{"a": {"\x00"}, "b": {"line\nbreak"}, "c": {"✓"}}
	if got := starter.lastEvent("open").Query; !reflect.DeepEqual(got, want) {
		t.Errorf("query %q, want %q", got, want)
	}
}

// A resume URL's query is read as a webhook's: the POST and the page alike refuse one
// that is not UTF-8, and nothing is resumed.
func TestResumeQueryNotUTF8(t *testing.T) {
	f := &fakeResumer{}
	srv := httptest.NewServer(NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	for _, method := range []string{"POST", "GET"} {
		req, _ := http.NewRequest(method, srv.URL+"/resume/good?decision=%ff", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `the value of parameter \"decision\" is not valid UTF-8`) {
			t.Errorf("%s: got %d %s, want 400 naming the parameter", method, resp.StatusCode, data)
		}
	}
	if f.resumed != nil {
		t.Errorf("resumed with %+v", f.resumed)
	}
}

// rawExchange sends text on a new connection to srv and returns the status line and
// the answer's body, read to the connection's end.
func rawExchange(t *testing.T, srv *httptest.Server, text string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status, string(body)
}

// An HTTP/1.0 request that may have a body (POST, PUT, PATCH) and has no
// Content-Length is refused with 411: Go's server would take it for one without a body
// and drop the bytes sent, and its run would start on an event without them. One with
// a Content-Length, an HTTP/1.0 GET, and an HTTP/1.1 POST with no body are taken.
func TestWebhookHTTP10WithoutContentLength(t *testing.T) {
	srv, starter := serveHooks(t, "open.hcl", openHooks)
	const json = "Content-Type: application/json\r\n"
	for _, tt := range []struct {
		name, request string
		status        string
		body          any // the event's body, for a request taken
	}{
		{"HTTP/1.0 without Content-Length", "POST /hooks/open HTTP/1.0\r\nHost: x\r\n" + json + "\r\n" + `{"a":1}`, "411 Length Required", nil},
		{"HTTP/1.0 chunked", "POST /hooks/open HTTP/1.0\r\nHost: x\r\n" + json + "Transfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n", "411 Length Required", nil},
		{"HTTP/1.0 without a body", "POST /hooks/open HTTP/1.0\r\nHost: x\r\n" + json + "\r\n", "411 Length Required", nil},
		{"HTTP/1.0 with Content-Length", "POST /hooks/open HTTP/1.0\r\nHost: x\r\n" + json + "Content-Length: 7\r\n\r\n" + `{"a":1}`, "202 Accepted", map[string]any{"a": 1}},
		{"HTTP/1.0 with Content-Length 0", "POST /hooks/open HTTP/1.0\r\nHost: x\r\n" + json + "Content-Length: 0\r\n\r\n", "202 Accepted", nil},
		{"HTTP/1.0 GET", "GET /hooks/ping HTTP/1.0\r\nHost: x\r\n\r\n", "202 Accepted", nil},
		// A webhook takes a DELETE's body as a POST's: its body is read whole or refused.
		{"HTTP/1.0 DELETE without Content-Length", "DELETE /hooks/del HTTP/1.0\r\nHost: x\r\n" + json + "\r\n" + `{"a":1}`, "411 Length Required", nil},
		{"HTTP/1.0 DELETE with Content-Length", "DELETE /hooks/del HTTP/1.0\r\nHost: x\r\n" + json + "Content-Length: 7\r\n\r\n" + `{"a":1}`, "202 Accepted", map[string]any{"a": 1}},
		{"HTTP/1.1 with Content-Length 0", "POST /hooks/open HTTP/1.1\r\nHost: x\r\n" + json + "Content-Length: 0\r\nConnection: close\r\n\r\n", "202 Accepted", nil},
		{"HTTP/1.1 without a body", "POST /hooks/open HTTP/1.1\r\nHost: x\r\n" + json + "Connection: close\r\n\r\n", "202 Accepted", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := starter.count()
			status, body := rawExchange(t, srv, tt.request)
			if status != tt.status {
				t.Fatalf("got %s %s, want %s", status, body, tt.status)
			}
			if tt.status != "202 Accepted" {
				if want := `HTTP/1.0 request without Content-Length: its body cannot be read`; !strings.Contains(body, want) {
					t.Errorf("answer %s, want it to say %q", body, want)
				}
				if starter.count() != before {
					t.Error("a run started")
				}
				return
			}
			if starter.count() != before+1 {
				t.Fatalf("%d runs started, want one", starter.count()-before)
			}
			_, wf, _ := strings.Cut(tt.request, " /hooks/")
			wf, _, _ = strings.Cut(wf, " ")
			if got := starter.lastEvent(wf).Body; !reflect.DeepEqual(got, tt.body) {
				t.Errorf("event body %#v, want %#v", got, tt.body)
			}
		})
	}
}

// A resume URL refuses an HTTP/1.0 POST without a Content-Length as a webhook does.
func TestResumeHTTP10WithoutContentLength(t *testing.T) {
	f := &fakeResumer{}
	srv := httptest.NewServer(NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	status, body := rawExchange(t, srv, "POST /resume/good HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"+`{"approved":true}`)
	if status != "411 Length Required" || !strings.Contains(body, "its body cannot be read") {
		t.Errorf("got %s %s, want 411 with the reason", status, body)
	}
	if f.resumed != nil {
		t.Errorf("resumed with %+v", f.resumed)
	}
}

// JSON with a key twice in one object, at any depth, is refused: event.body would hold
// one of its values, a filter would read that one, and event.raw (what a step forwards)
// both. A key written two ways (a, \u0061) is one key. A key in two objects is fine.
func TestWebhookDuplicateJSONKeys(t *testing.T) {
	srv, starter := serveHooks(t, "open.hcl", openHooks)
	for _, tt := range []struct{ name, contentType, body, says string }{
		{"top level", "application/json", `{"a":1,"a":2}`,
			`malformed body: duplicate key "a" in the top-level JSON object (at byte 7): a key may appear once in an object`},
		{"nested", "application/json", `{"order":{"items":[{"id":1},{"id":2,"sku":"x","id":3}]}}`,
			`duplicate key "id" in the JSON object at order.items[1] (at byte 46)`},
		{"a key that is not a name", "application/json", `{"line items":[{"a":1,"a":1}]}`,
			`duplicate key "a" in the JSON object at ["line items"][0]`},
		{"escaped alike", "application/json", `{"a":1,"\u0061":2}`, `duplicate key "a"`},
		{"+json", "application/vnd.api+json", `{"a":1,"a":2}`, `duplicate key "a"`},
		{"no content type", "", `{"a":1,"a":2}`, `duplicate key "a"`},
		{"form that is JSON", "application/x-www-form-urlencoded", `{"a":1,"a":2}`, `duplicate key "a"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, "POST", srv.URL+"/hooks/open", tt.contentType, []byte(tt.body))
			if msg, _ := a.body["error"].(string); a.status != http.StatusBadRequest || !strings.Contains(msg, tt.says) {
				t.Errorf("got %d %v, want 400 saying %q", a.status, a.body, tt.says)
			}
		})
	}
	if n := starter.count(); n != 0 {
		t.Fatalf("%d runs started, want none", n)
	}
	a := send(t, "POST", srv.URL+"/hooks/open", "application/json", []byte(`{"a":{"a":1},"b":[{"a":2},{"a":3}]}`))
	if a.status != http.StatusAccepted {
		t.Errorf("one key in several objects: got %d %v", a.status, a.body)
	}
}

// A JSON body that starts with a byte order mark is refused with that reason, not as
// an invalid character.
func TestWebhookJSONByteOrderMark(t *testing.T) {
	srv, starter := serveHooks(t, "open.hcl", openHooks)
	a := send(t, "POST", srv.URL+"/hooks/open", "application/json", []byte("\xef\xbb\xbf{\"a\":1}"))
	if msg, _ := a.body["error"].(string); a.status != http.StatusBadRequest || !strings.Contains(msg, "a JSON body may not start with a byte order mark") {
		data, _ := json.Marshal(a.body)
		t.Errorf("got %d %s, want 400 naming the byte order mark", a.status, data)
	}
	if n := starter.count(); n != 0 {
		t.Errorf("%d runs started, want none", n)
	}
}
