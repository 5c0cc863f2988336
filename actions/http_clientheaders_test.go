package actions

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// A Host in headers is the request's Host: a virtual host called by its address gets
// it, the run history records it as sent, and the connection goes to the URL's host,
// which the outbound guard checks whatever the Host says.
func TestHTTPStepSendsTheHostOfItsHeaders(t *testing.T) {
	hosts := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hosts <- r.Host:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct{ headers, want string }{
		{`{ Host = "shop.example.com" }`, "shop.example.com"},
		{`{ Host = "bücher.example:8443" }`, "xn--bcher-kva.example:8443"}, // a name not in ASCII is sent as its punycode
	} {
		step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" {
  url     = "`+srv.URL+`/"
  headers = `+tt.headers+`
}`)
		c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"h": map[string]any{"host": "bücher.example:8443"}}}},
			RunID: "r1", Step: "a", Attempt: 1}
		if _, err := step.Action.Do(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if got := <-hosts; got != tt.want {
			t.Errorf("headers = %s: the server got Host %q, want %q", tt.headers, got, tt.want)
		}
		if got := c.Sent.Headers["Host"]; got != tt.want {
			t.Errorf("headers = %s: the run history records Host %q, want %q", tt.headers, got, tt.want)
		}
	}

	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" {
  url     = "http://10.0.0.1:1/"
  headers = { Host = "127.0.0.1" }
}`)
	if _, err := call(step, &workflows.Env{}); !errors.As(err, new(*BlockedError)) {
		t.Errorf("a refused address with an allowed Host: got %v, want it refused", err)
	}

	// A Host a run gives would pick the site past the outbound guard's check of the
	// address: written with a {{ }} of the run, a load error; in headers that one {{ }}
	// gives (a relay of event.headers), left out, as the client would, with the rest sent.
	expectLoadErrors(t, map[string]string{`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { Host = "{{ event.body.host }}" }
}`: "t.hcl:4,22-45: Host not fixed when the file loads"})
	step = loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" {
  url     = "`+srv.URL+`/"
  headers = "{{ event.headers }}"
}`)
	relayed := map[string]any{"host": "admin.internal", "content-length": "2", "connection": "keep-alive", "x-ok": "1"}
	c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"headers": relayed}}, RunID: "r1", Step: "a", Attempt: 1}
	if _, err := step.Action.Do(t.Context(), c); err != nil {
		t.Fatalf("a relay of the event's headers: %v", err)
	}
	if got, want := <-hosts, strings.TrimPrefix(srv.URL, "http://"); got != want {
		t.Errorf("a relay of the event's headers: the server got Host %q, want the URL's %q", got, want)
	}
	for _, name := range []string{"Host", "Content-Length", "Connection"} {
		if v, ok := c.Sent.Headers[name]; ok {
			t.Errorf("a relay of the event's headers: the run history records %s: %q, which was not sent", name, v)
		}
	}
	if c.Sent.Headers["X-Ok"] != "1" {
		t.Errorf("a relay of the event's headers: X-Ok was not sent: %v", c.Sent.Headers)
	}
}

// Content-Length, Transfer-Encoding and the headers of one connection are the HTTP
// client's to write: named in the file, a load error at the key (a warning in a
// stored version, whose step then fails before anything is sent); given by a {{ }},
// left out, as the client would, and not recorded.
func TestHTTPStepRefusesHeadersTheClientSets(t *testing.T) {
	expectLoadErrors(t, map[string]string{
		`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { Content-Length = "10" }
}`: "t.hcl:4,15-29: Header the HTTP client sets; Content-Length is set by the HTTP client from the body",
		`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { "transfer-encoding" = "chunked" }
}`: "Transfer-Encoding is set by the HTTP client from the body",
		`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { Connection = "close", X-Ok = "1" }
}`: "Connection governs one connection",
		`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { Host = ["a.example", "b.example"] }
}`: "Invalid Host header; A request has one Host, not 2.",
		`step "http" "a" {
  url     = "https://x.example.com/"
  headers = { Host = "a b" }
}`: "Invalid Host header",
	})
	k := workflows.NewKinds()
	Register(k, Options{})
	_, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`api "crm" {
  base_url = "https://crm.example.com"
  headers  = { Keep-Alive = "timeout=5" }
}
workflow "w" {
  step "http" "a" {
    api     = "crm"
    url     = "/a"
    headers = { Host = "{{ event.body.host }}", X-Id = "{{ event.body.id }}" }
  }
}`)}}, k)
	if len(diags) != 2 || !strings.Contains(diags[0].Detail, "Keep-Alive governs one connection") || diags[1].Summary != "Host not fixed when the file loads" {
		t.Errorf("an api's Keep-Alive, and a Host of a {{ }}: got %v", diags)
	}

	var sent atomic.Int32
	answers := roundTripper(func(*http.Request) (*http.Response, error) {
		sent.Add(1)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	})
	step := loadStep(t, &http.Client{Transport: answers}, `step "http" "a" {
  url     = "https://x.example.com/"
  json    = { a = 1 }
  headers = "{{ event.body.h }}"
}`)
	for _, name := range []string{"content-length", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Trailer"} {
		env := &workflows.Env{Event: map[string]any{"body": map[string]any{"h": map[string]any{name: "1", "X-Ok": "1"}}}}
		c := &workflows.Call{Env: env, RunID: "r1", Step: "a", Attempt: 1}
		if _, err := step.Action.Do(t.Context(), c); err != nil {
			t.Errorf("%s given by a {{ }}: %v, want it left out", name, err)
		}
		if _, ok := c.Sent.Headers[http.CanonicalHeaderKey(name)]; ok || c.Sent.Headers["X-Ok"] != "1" {
			t.Errorf("%s given by a {{ }}: the run history records %v", name, c.Sent.Headers)
		}
	}
	set, diags := workflows.LoadWith([]workflows.Source{{Name: "w.hcl", Data: []byte(`workflow "w" {
  step "http" "a" {
    url     = "https://x.example.com/"
    headers = { Content-Length = "10" }
  }
}`)}}, k, workflows.Options{Stored: true})
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
		t.Fatalf("a stored version: got %v, want a warning", diags)
	}
	if _, err := call(set.Workflow("w").Steps[0], &workflows.Env{}); err == nil || !strings.Contains(err.Error(), "headers: Content-Length is set by the HTTP client") {
		t.Errorf("a stored version's step: got %v", err)
	}
	if n := sent.Load(); n != 5 {
		t.Errorf("%d requests were sent, want the 5 whose headers a {{ }} gave", n)
	}
}
