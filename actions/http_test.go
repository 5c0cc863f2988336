package actions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// loadStep loads one workflow whose steps are written in src and returns its first step.
func loadStep(t testing.TB, client *http.Client, src string) *workflows.Step {
	t.Helper()
	k := workflows.NewKinds()
	Register(k, Options{Client: client})
	set, diags := workflows.Load([]workflows.Source{{Name: "test.hcl", Data: []byte("workflow \"w\" {\n" + src + "\n}")}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set.Workflow("w").Steps[0]
}

// expectLoadErrors loads each step source (inside a workflow) and checks that the
// diagnostics say what is expected.
func expectLoadErrors(t *testing.T, tests map[string]string) {
	t.Helper()
	k := workflows.NewKinds()
	Register(k, Options{})
	for src, want := range tests {
		_, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte("workflow \"w\" {\n" + src + "\n}")}}, k)
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("%s:\n got %s\nwant %q", src, diags.Error(), want)
		}
	}
}

func call(step *workflows.Step, env *workflows.Env) (any, error) {
	return step.Action.Do(context.Background(), &workflows.Call{Env: env, RunID: "run1", Step: step.Name, Attempt: 1})
}

type recorded struct {
	method, path, query, body string
	header                    http.Header
}

// recorder is an API that records what it was sent and answers with JSON.
func recorder(t *testing.T, status int, answer string) (*httptest.Server, chan recorded) {
	got := make(chan recorded, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- recorded{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-1")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestHTTPStepSendsWhatItSays(t *testing.T) {
	srv, got := recorder(t, 200, `{"id": "cus_1", "n": 2}`)
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "update" {
    method  = "patch"
    url     = "`+srv.URL+`/customers/{{ event.body.id }}"
    query   = { email = "{{ event.body.email }}", tag = ["a", "b"] }
    headers = { Authorization = "Bearer t0k", "X-Amount" = "{{ event.body.amount }}" }
    json    = { status = "paid", amount = "{{ event.body.amount / 100 }}", who = { email = "{{ event.body.email }}" } }
  }`)
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "c 1", "email": "a+b@x.com", "amount": 1999}}}
	out, err := call(step, env)
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.method != "PATCH" || r.path != "/customers/c 1" {
		t.Errorf("request %s %s", r.method, r.path)
	}
	if r.query != "email=a%2Bb%40x.com&tag=a&tag=b" {
		t.Errorf("query %q", r.query)
	}
	if r.body != `{"amount":19.99,"status":"paid","who":{"email":"a+b@x.com"}}` {
		t.Errorf("body %s", r.body)
	}
	for name, want := range map[string]string{
		"Authorization":   "Bearer t0k",
		"X-Amount":        "1999",
		"Content-Type":    "application/json",
		"Idempotency-Key": "run1:update",
		"User-Agent":      "hookflow",
	} {
		if v := r.header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	m := out.(map[string]any)
	if m["status"] != 200 || !reflect.DeepEqual(m["body"], map[string]any{"id": "cus_1", "n": 2}) {
		t.Errorf("output %#v", m)
	}
	if h := m["headers"].(map[string]any); h["x-request-id"] != "req-1" {
		t.Errorf("headers should be lower-case: %#v", h)
	}
}

func TestHTTPStepDefaultMethod(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	client := NewClient(NewGuard(loopback))
	for src, want := range map[string]string{
		`step "http" "a" { url = "` + srv.URL + `" }`:                      "GET",
		"step \"http\" \"a\" {\n url = \"" + srv.URL + "\"\n json = {}\n}": "POST",
	} {
		if _, err := call(loadStep(t, client, src), &workflows.Env{}); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r.method != want {
			t.Errorf("%s: method %s, want %s", src, r.method, want)
		}
	}
}

func TestHTTPStepNon2xxFails(t *testing.T) {
	srv, _ := recorder(t, 503, `{"error": "down"}`)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "`+srv.URL+`/x" }`)
	out, err := call(step, &workflows.Env{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("want a StatusError 503, got %v", err)
	}
	if out.(map[string]any)["body"].(map[string]any)["error"] != "down" {
		t.Errorf("the response should still be reported: %#v", out)
	}
	if !strings.Contains(err.Error(), srv.URL+"/x: status 503") {
		t.Errorf("the error should show the URL it called: %v", err)
	}
}

func TestHTTPStepTextResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	out, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "`+srv.URL+`" }`), &workflows.Env{})
	if err != nil || out.(map[string]any)["body"] != "ok" {
		t.Errorf("got %#v, %v", out, err)
	}
}

func TestHTTPStepResponseCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.CopyN(w, zeros{}, MaxResponseBody+1)
	}))
	defer srv.Close()
	_, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "`+srv.URL+`" }`), &workflows.Env{})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v", err)
	}
	if retry, _ := workflows.Retryable(err); retry {
		t.Error("a response over the cap is retried; it will be as large next time")
	}
}

// An answer's headers are read up to MaxResponseHeaders, over HTTP/1 and HTTP/2: past
// it the call fails, and nothing of the headers is kept, saying why: for good where
// the client says so (HTTP/1, and an HTTP/2 header list past the limit), retried where
// HTTP/2 ends the connection, as another fault may end it so, with the limit named.
func TestHTTPStepHeadersCap(t *testing.T) {
	headers := func(n, size int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := range n {
				w.Header().Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("v", size))
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "ok")
		}
	}
	const over = "the answer's headers are larger than 64 KiB, more than a call reads"
	const likely = "the HTTP/2 connection ended (connection error: %s), as it does when the answer's headers are larger than 64 KiB, more than a call reads"
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			for _, c := range []struct {
				name    string
				n, size int
				want    string // "" for none; the HTTP/1 error, or else HTTP/2's
				h2      string
				retry   bool // over HTTP/2
			}{
				{"50 KB", 100, 500, "", "", false},
				{"70 KB", 140, 500, over, over, false},
				{"one header of 70 KB", 1, 70000, over, fmt.Sprintf(likely, "COMPRESSION_ERROR"), true},
				{"1 MB", 2000, 500, over, fmt.Sprintf(likely, "PROTOCOL_ERROR"), true},
			} {
				srv := httptest.NewUnstartedServer(headers(c.n, c.size))
				client := NewClient(NewGuard(loopback))
				want, retry := c.want, false
				if proto == "HTTP/2" {
					srv.EnableHTTP2 = true
					srv.StartTLS()
					client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
					want, retry = c.h2, c.retry
				} else {
					srv.Start()
				}
				step := loadStep(t, client, `step "http" "a" { url = "`+srv.URL+`" }`)
				out, err := call(step, &workflows.Env{})
				srv.Close()
				if want == "" {
					if err != nil || len(out.(map[string]any)["headers"].(map[string]any)) < c.n {
						t.Errorf("%s: %v", c.name, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("%s: got %v, want %q", c.name, err, want)
				}
				if r, _ := workflows.Retryable(err); r != retry {
					// Headers past the cap will be as large next time; a connection that
					// ended may have ended for another fault of the server's.
					t.Errorf("%s: retryable %v, want %v", c.name, r, retry)
				}
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func TestHTTPStepDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusFound)
	}))
	defer redirector.Close()
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "a" {
    url     = "`+redirector.URL+`"
    headers = { "X-Api-Key" = "secret-key" }
  }`)
	_, err := call(step, &workflows.Env{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusFound || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("got %v", err)
	}
	if hits.Load() != 0 {
		t.Error("the redirect target was called")
	}
}

func TestHTTPStepRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer canary.Close()
	step := loadStep(t, NewClient(NewGuard(nil)), `step "http" "a" { url = "`+canary.URL+`" }`)
	_, err := call(step, &workflows.Env{})
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want a BlockedError, got %v", err)
	}
	if !strings.Contains(err.Error(), "--allow-net 127.0.0.1/32") {
		t.Errorf("the error should say how to allow it: %v", err)
	}
	if hits.Load() != 0 {
		t.Error("the canary was reached")
	}
}

func TestHTTPStepRefusesZonedLoopback(t *testing.T) {
	var hits atomic.Int32
	canary := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := "9"
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil { // a canary where IPv6 exists
		defer ln.Close()
		go http.Serve(ln, canary)
		port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	step := loadStep(t, NewClient(NewGuard(nil)), `step "http" "a" { url = "http://[::1%25lo]:`+port+`/" }`)
	_, err := call(step, &workflows.Env{})
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want a BlockedError, got %v", err)
	}
	if hits.Load() != 0 {
		t.Error("the canary was reached")
	}
}

func TestHTTPStepRefusesLineBreaksInHeaders(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "a" {
    url     = "`+srv.URL+`"
    headers = { "X-Name" = "{{ event.body.name }}" }
  }`)
	_, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"name": "a\r\nX-Injected: 1"}}})
	if err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("got %v", err)
	}
	if len(got) != 0 {
		t.Error("the request was sent")
	}
}

// TestHTTPStepRefusesBadHeadersItself: a header a template gives is checked before
// the request is sent, not left to the client's transport, so that a dry run, whose
// transport sends nothing, fails as a run would.
func TestHTTPStepRefusesBadHeadersItself(t *testing.T) {
	var sent atomic.Int32
	answers := roundTripper(func(*http.Request) (*http.Response, error) {
		sent.Add(1)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	})
	for _, tt := range []struct{ headers, want string }{
		{`{ X = "{{ event.body.v }}" }`, "header X: value holds the control character U+0001; refusing to send it"},
		{`"{{ event.body.h }}"`, `headers: "Bad Name:" is not a valid header name`},
	} {
		step := loadStep(t, &http.Client{Transport: answers}, `step "http" "a" {
  url     = "https://x.example.com/"
  headers = `+tt.headers+`
}`)
		env := &workflows.Env{Event: map[string]any{"body": map[string]any{"v": "a\x01b", "h": map[string]any{"Bad Name:": "v"}}}}
		if _, err := call(step, env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("headers = %s: got %v, want %q", tt.headers, err, tt.want)
		}
	}
	// An api's header that a stored version holds, which an older build accepted.
	k := workflows.NewKinds()
	Register(k, Options{Client: &http.Client{Transport: answers}})
	set, diags := workflows.LoadWith([]workflows.Source{{Name: "w.hcl", Data: []byte(`api "crm" {
  base_url = "https://crm.example.com"
  headers  = { X-Note = "a\nb" }
}
workflow "w" {
  step "http" "a" {
    api = "crm"
    url = "/a"
  }
}`)}}, k, workflows.Options{Stored: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := "header X-Note: value holds a line break; refusing to send it"
	if _, err := call(set.Workflow("w").Steps[0], &workflows.Env{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an api's header: got %v, want %q", err, want)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

// TestHTTPStepErrorsHideTheURL checks that a bad rendered URL is reported without the
// URL, which may carry a secret.
func TestHTTPStepErrorsHideTheURL(t *testing.T) {
	for _, u := range []string{"ftp://x/x?token=s3cr3t", "http://a b/x?token=s3cr3t", "s3cr3t", "http://x/\x7fs3cr3t"} {
		step := loadStep(t, NewClient(NewGuard(nil)), `step "http" "a" { url = "{{ event.body.url }}" }`)
		_, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"url": u}}})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: error %v", u, err)
		}
	}
}

func TestHTTPStepQueryKeepsTheURLsOwn(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "a" {
    url   = "`+srv.URL+`/x?z=1&sig=a%2Fb"
    query = { a = "x y" }
  }`)
	if _, err := call(step, &workflows.Env{}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.query != "z=1&sig=a%2Fb&a=x+y" {
		t.Errorf("query %q", r.query)
	}
}

func TestHTTPStepBodies(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	client := NewClient(NewGuard(loopback))
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{"text": "hi & bye", "n": 2,
		"html": "<a&b>", "obj": map[string]any{"tag": "<a&b>"}}}}
	tests := []struct {
		attrs, contentType, body string
	}{
		{`form = { text = "{{ event.body.text }}", tag = ["a", "b"] }`, "application/x-www-form-urlencoded", "tag=a&tag=b&text=hi+%26+bye"},
		{`body = "n={{ event.body.n }}"`, "text/plain; charset=utf-8", "n=2"},
		{"body    = \"<x/>\"\n    headers = { \"Content-Type\" = \"application/xml\" }", "application/xml", "<x/>"},
		{`json = "{{ event.body.n }}"`, "application/json", "2"},
		// <, > and & arrive as written, not as \u003c, \u003e and \u0026.
		{`json = { note = "<a&b>", html = "{{ event.body.html }}", obj = "{{ event.body.obj }}" }`, "application/json",
			`{"html":"<a&b>","note":"<a&b>","obj":{"tag":"<a&b>"}}`},
		{`body = "obj: {{ event.body.obj }}"`, "text/plain; charset=utf-8", `obj: {"tag":"<a&b>"}`},
	}
	for _, tt := range tests {
		step := loadStep(t, client, "step \"http\" \"a\" {\n    url = \""+srv.URL+"\"\n    "+tt.attrs+"\n}")
		if _, err := call(step, env); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.method != "POST" || r.header.Get("Content-Type") != tt.contentType || r.body != tt.body {
			t.Errorf("%s: %s %q %q", tt.attrs, r.method, r.header.Get("Content-Type"), r.body)
		}
	}
}

func TestHTTPStepBasicAuthAndIdempotencyKey(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	client := NewClient(NewGuard(loopback))
	step := loadStep(t, client, `
  step "http" "a" {
    url             = "`+srv.URL+`"
    basic_auth      = { username = "ada", password = "{{ event.body.pw }}" }
    idempotency_key = "order-{{ event.body.id }}"
  }`)
	if _, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"pw": "p:w", "id": 7}}}); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.header.Get("Authorization") != "Basic YWRhOnA6dw==" || r.header.Get("Idempotency-Key") != "order-7" {
		t.Errorf("headers %v", r.header)
	}
	step = loadStep(t, client, "step \"http\" \"a\" {\n url = \""+srv.URL+"\"\n idempotency_key = \"\"\n}")
	if _, err := call(step, &workflows.Env{}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.header.Values("Idempotency-Key") != nil {
		t.Errorf("idempotency_key = \"\" should omit the header, got %q", r.header.Get("Idempotency-Key"))
	}
}

// A basic_auth username with a ":" fails the step, or the load when it is written
// out: the server would read the user up to the ":" (RFC 7617), and the rest as the
// start of the password.
func TestHTTPStepRefusesAColonInTheUsername(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "a" {
    url        = "`+srv.URL+`"
    basic_auth = { username = "{{ event.body.user }}", password = "pw" }
  }`)
	_, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"user": "a:b"}}})
	const want = `basic_auth: the username holds a ":", which basic auth cannot carry (RFC 7617)`
	if err == nil || !strings.HasPrefix(err.Error(), want) || isRetryable(err) {
		t.Errorf("got %v, want a permanent %q…", err, want)
	}
	select {
	case r := <-got:
		t.Errorf("sent %s with %q", r.method, r.header.Get("Authorization"))
	default:
	}

	k := workflows.NewKinds()
	Register(k, Options{})
	for _, src := range []string{
		`basic_auth = { username = "a:b", password = "pw" }`,
		`basic_auth = { username = "a:b", password = "{{ event.body.pw }}" }`,
	} {
		_, all := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte("workflow \"w\" {\n  step \"http\" \"a\" {\n    url = \"https://x.example.com\"\n    " + src + "\n  }\n}")}}, k)
		var errs hcl.Diagnostics // not the warning of a password written in the file
		for _, d := range all {
			if d.Severity == hcl.DiagError {
				errs = append(errs, d)
			}
		}
		if len(errs) != 1 || errs[0].Summary != "Invalid basic_auth username" || !strings.HasPrefix(errs[0].Detail, `The username holds a ":"`) {
			t.Errorf("%s: %v", src, all)
			continue
		}
		// At the username's value, in line 4, column 31.
		if r := errs[0].Subject; r == nil || r.Start.Line != 4 || r.Start.Column != 31 {
			t.Errorf("%s: at %v", src, r)
		}
	}
}

func TestHTTPStepExpect(t *testing.T) {
	for _, tt := range []struct {
		expect string
		status int
		ok     bool
	}{
		{"", 204, true},
		{"", 404, false},
		{"[200, 404]", 404, true},
		{"[200, 404]", 201, false},
		{`["2xx", 409]`, 409, true},
		{`"4xx"`, 418, true},
		{"201", 200, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) }))
		attrs := "url = \"" + srv.URL + "\""
		if tt.expect != "" {
			attrs += "\n expect = " + tt.expect
		}
		_, err := call(loadStep(t, NewClient(NewGuard(loopback)), "step \"http\" \"a\" {\n"+attrs+"\n}"), &workflows.Env{})
		srv.Close()
		if (err == nil) != tt.ok {
			t.Errorf("expect %s, status %d: %v", tt.expect, tt.status, err)
		}
	}
}

func TestHTTPStepLoadErrors(t *testing.T) {
	tests := map[string]string{
		`step "http" "a" {` + "\n" + `url = "https://x.example"` + "\n" + `method = "FETCH"` + "\n}":             `Unknown HTTP method "FETCH"`,
		`step "http" "a" {` + "\n" + `url = "https://x.example"` + "\n" + `method = "{{ event.m }}"` + "\n}":     "method cannot use {{ }}",
		`step "http" "a" { url = "ftp://x.example" }`:                                                            "must start with http:// or https://, not ftp://",
		`step "http" "a" { url = "https:///path" }`:                                                              "has no host",
		`step "http" "a" {` + "\n" + `url = "https://x.example"` + "\n" + `headers = "x"` + "\n}":                "headers must be an object",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\njson = {}\nform = {}\n}":                            "Both json and form are set",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nexpect = [200, 700]\n}":                             "700 is not an HTTP status",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nexpect = \"200\"\n}":                                "write status codes as numbers",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nexpect = \"2XX0\"\n}":                               "not a status class",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nexpect = []\n}":                                     "The list is empty",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nbasic_auth = { user = \"a\", password = \"b\" }\n}": "Unknown field \"user\"",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nheaders = { \"Bad Name:\" = \"v\" }\n}":             `"Bad Name:" is not a valid header name`,
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nheaders = { X = \"a\\nb\" }\n}":                     "The value of header X holds a line break",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nheaders = { X = \"a\\n{{ event.id }}\" }\n}":        "The value of header X holds a line break",
		"step \"http\" \"a\" {\nurl = \"https://x.example\"\nheaders = { X = [\"a\", \"\\u0000\"] }\n}":          "The value of header X holds the control character U+0000",
	}
	expectLoadErrors(t, tests)
}

// requestCanary is a secret with characters that each encoding hookflow applies
// changes: percent-encoding in a path or a query or a form, JSON escaping.
const requestCanary = `Cn4ry/s3cr&t"<x>+=?`

// canaryForms are the canary as a request may carry it: as it is, encoded each way,
// and inside the basic auth of user svc.
func canaryForms() []string {
	quoted, _ := json.Marshal(requestCanary)
	return []string{"Cn4ry", url.QueryEscape(requestCanary), url.PathEscape(requestCanary), string(quoted[1 : len(quoted)-1]),
		base64.StdEncoding.EncodeToString([]byte("svc:" + requestCanary))}
}

// loadSecretStep loads a workflow with vars.token read by secret() and returns its
// first step and its redactor.
func loadSecretStep(t *testing.T, src string) (*workflows.Step, *workflows.Redactor) {
	t.Helper()
	t.Setenv("HOOKFLOW_TEST_CANARY", requestCanary)
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback))})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
vars {
  token = secret("HOOKFLOW_TEST_CANARY")
}
workflow "w" {
` + src + `
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	return wf.Steps[0], wf.Secrets
}

// echo is an API that answers with everything it got, as text: the request line with
// the URL as sent, the headers, the body.
func echo(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s\n", r.Method, r.RequestURI)
		r.Header.Write(w)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPStepRecordsRequestRedacted(t *testing.T) {
	srv := echo(t, 200)
	for name, body := range map[string]string{
		"json": `json = { token = vars.token, note = "hello" }`,
		"form": `form = { token = vars.token, note = "hello" }`,
		"text": `body = "token=${vars.token} note=hello"`,
	} {
		t.Run(name, func(t *testing.T) {
			step, secrets := loadSecretStep(t, `
  step "http" "send" {
    method     = "PUT"
    url        = "`+srv.URL+`/orders/{{ vars.token }}/lines"
    query      = { key = vars.token, page = "2" }
    headers    = { X-Trace = "trace-1", X-Copy = vars.token }
    basic_auth = { username = "svc", password = vars.token }
    `+body+`
  }`)
			c := &workflows.Call{Env: &workflows.Env{Vars: map[string]any{"token": requestCanary}}, RunID: "r1", Step: "send", Attempt: 1, Secrets: secrets}
			out, err := step.Action.Do(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			sent := c.Sent
			if sent == nil {
				t.Fatal("the step recorded no request")
			}
			if sent.Method != "PUT" || sent.Status != 200 || sent.Attempt != 1 ||
				!strings.HasPrefix(sent.URL, srv.URL+"/orders/[redacted]/lines?") || !strings.Contains(sent.URL, "page=2") ||
				sent.Headers["X-Trace"] != "trace-1" || sent.Headers["Authorization"] != "Basic [redacted]" ||
				sent.Headers["X-Copy"] != "[redacted]" || !strings.Contains(sent.Body, "hello") || !strings.Contains(sent.Body, "[redacted]") {
				t.Errorf("recorded %+v", sent)
			}
			output := secrets.Encoded().Value(out) // as the engine records it
			if sent.Response != nil {
				t.Errorf("a text answer is recorded apart from the output that holds it: %+v", sent.Response)
			}
			shown := workflows.AnswerOf(output) // as the history shows it
			if shown == nil || !strings.Contains(shown.Body, "PUT /orders/[redacted]/lines?") || !strings.Contains(shown.Body, "X-Trace: trace-1") ||
				shown.Headers["Content-Type"] != "text/plain" {
				t.Errorf("the answer is not recorded: %+v", shown)
			}
			recorded, _ := json.Marshal(sent)
			answer, _ := json.Marshal(output)
			for _, form := range canaryForms() {
				if strings.Contains(string(recorded), form) {
					t.Errorf("the recorded request holds the secret as %q:\n%s", form, recorded)
				}
				if strings.Contains(string(answer), form) {
					t.Errorf("the output holds the secret as %q:\n%s", form, answer)
				}
			}
		})
	}
}

func TestHTTPStepErrorShowsPathNotSecret(t *testing.T) {
	srv := echo(t, 404)
	step, secrets := loadSecretStep(t, `
  step "http" "send" {
    url = "`+srv.URL+`/hooks/${vars.token}/tikets"
  }`)
	c := &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "send", Attempt: 1, Secrets: secrets}
	_, err := step.Action.Do(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "GET "+srv.URL+"/hooks/[redacted]/tikets: status 404") {
		t.Errorf("the error should show the path with the secret redacted: %v", err)
	}
	if c.Sent == nil || c.Sent.URL != srv.URL+"/hooks/[redacted]/tikets" || c.Sent.Status != 404 {
		t.Errorf("recorded %+v", c.Sent)
	}
	recorded, _ := json.Marshal(c.Sent) // the answer repeats the URL as it was sent
	for _, form := range canaryForms() {
		if strings.Contains(err.Error(), form) || strings.Contains(string(recorded), form) {
			t.Errorf("the error or the recorded request holds the secret as %q: %v\n%s", form, err, recorded)
		}
	}
	// A request that got no answer says where it went too.
	step = loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "http://127.0.0.1:1/tikets" }`)
	if _, err := call(step, &workflows.Env{}); err == nil || !strings.Contains(err.Error(), "GET http://127.0.0.1:1/tikets: ") {
		t.Errorf("a refused connection: %v", err)
	}
}

func TestHTTPStepRecordsBodiesCut(t *testing.T) {
	srv := echo(t, 200)
	big := strings.Repeat("a", workflows.MaxRecordedBody+100)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" {
  url  = "`+srv.URL+`/big"
  body = "{{ event.body }}"
}`)
	c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": big}}, RunID: "r1", Step: "a", Attempt: 1}
	out, err := step.Action.Do(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	answer := workflows.AnswerOf(out) // the output holds it: the history shows it from there
	for what, body := range map[string]string{"request": c.Sent.Body, "answer": answer.Body} {
		marker := fmt.Sprintf("[cut: the body is %d bytes; the first %d are kept]", len(big), workflows.MaxRecordedBody)
		if what == "answer" {
			marker = "[cut: the body is "
		}
		if len(body) > workflows.MaxRecordedBody+100 || !strings.Contains(body, marker) || !strings.HasPrefix(body, "aaaa") && what == "request" {
			t.Errorf("the %s's body is not cut with the marker (%d bytes): ...%q", what, len(body), body[max(0, len(body)-80):])
		}
	}
}

// A status the step does not expect keeps the answer's body in its StatusError, as the
// run history keeps it (for a poll, which has no history, to quote): the workflow's
// secrets and the request's credentials redacted in every form the API repeats them,
// and nothing of a sensitive step's answer. The error's text does not hold it.
func TestHTTPStepStatusErrorKeepsTheAnswerRedacted(t *testing.T) {
	srv := echo(t, 500)
	step, secrets := loadSecretStep(t, `
  step "http" "send" {
    url        = "`+srv.URL+`/orders"
    headers    = { X-Copy = vars.token }
    basic_auth = { username = "svc", password = vars.token }
  }`)
	for _, sensitive := range []bool{false, true} {
		c := &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "send", Attempt: 1, Secrets: secrets, Sensitive: sensitive}
		_, err := step.Action.Do(context.Background(), c)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 500 {
			t.Fatalf("want a StatusError 500, got %v", err)
		}
		body, size := se.Answer()
		switch {
		case sensitive && (body != "" || strings.Contains(err.Error(), "X-Copy")):
			t.Errorf("a sensitive step's answer is kept: %q", body)
		case !sensitive && (!strings.HasPrefix(body, "GET /orders\n") || !strings.Contains(body, "X-Copy: [redacted]") ||
			!strings.Contains(body, "Authorization: Basic [redacted]") || size < len("GET /orders\n")):
			t.Errorf("the answer kept is %q (%d bytes)", body, size)
		case !sensitive && strings.Contains(err.Error(), "X-Copy"):
			t.Errorf("the error shows the answer: %v", err)
		}
		for _, form := range canaryForms() {
			if strings.Contains(body, form) {
				t.Errorf("the answer kept holds the secret as %q:\n%s", form, body)
			}
		}
	}
}

// A secret written into a url with ${} that holds a # would be cut there, and its start
// alone sent where no redactor finds it: the step sends nothing and says why. A url
// that does not parse is refused without quoting any piece of it.
func TestSecretCutByTheURL(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	t.Setenv("HOOKFLOW_TEST_HASH", "abcSECRETPART#tail99")
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback))})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "w" {
  step "http" "send" {
    url = "` + srv.URL + `/echo?key=${secret("HOOKFLOW_TEST_HASH")}"
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	c := &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "send", Attempt: 1, Secrets: wf.Secrets}
	_, err := wf.Steps[0].Action.Do(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "holds a #") || strings.Contains(err.Error(), "SECRETPART") {
		t.Errorf("err = %v, want the secret's # refused, and no part of it shown", err)
	}
	if retry, _ := workflows.Retryable(err); retry {
		t.Error("the same url is cut the same way again: not to be retried")
	}
	select {
	case r := <-got:
		t.Errorf("sent %s?%s", r.path, r.query)
	default:
	}

	for _, raw := range []string{"https://deploy:TOPSECRETVALUE9/@api.example.com/v1", "https://api.example.com/err/%SECRET99"} {
		_, err := parseURL(raw)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("parseURL(%q) = %v, want an error quoting none of it", raw, err)
		}
	}
}

// roundTripper is a transport that answers each request itself.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
