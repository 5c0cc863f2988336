package actions

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// canary counts the connections made to it, on 127.0.0.1 and, where the machine has
// IPv6, on [::1], on one port.
type canary struct {
	port  string
	conns atomic.Int32
}

func newCanary(t *testing.T) *canary {
	t.Helper()
	c := &canary{}
	ln4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = strconv.Itoa(ln4.Addr().(*net.TCPAddr).Port)
	lns := []net.Listener{ln4}
	if ln6, err := net.Listen("tcp", "[::1]:"+c.port); err == nil {
		lns = append(lns, ln6)
	}
	for _, ln := range lns {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				c.conns.Add(1)
				conn.Close()
			}
		}()
	}
	return c
}

// TestOutboundGuardTable: every way of writing a private, loopback or metadata address
// is refused with a *BlockedError, before any connection: the canary listening on the
// loopback addresses sees none.
func TestOutboundGuardTable(t *testing.T) {
	c := newCanary(t)
	client := NewClient(NewGuard(nil))
	hosts := []string{
		"127.0.0.1", "[::1]", "169.254.169.254", "0.0.0.0", "10.1.2.3", "100.64.0.1",
		"[::ffff:127.0.0.1]", "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::]", "2130706433",
		"0177.0.0.1", "0x7f.1", "127.1", "127.1.", "2130706433.", "localhost", "[::]",
		"[::ffff:0:7f00:1]", "[::ffff:0:a9fe:a9fe]", "[::7f00:1]", "[64:ff9b:1::7f00:1]",
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			step := loadStep(t, client, `step "http" "a" { url = "{{ event.body.url }}" }`)
			env := &workflows.Env{Event: map[string]any{"body": map[string]any{"url": "http://" + host + ":" + c.port + "/"}}}
			_, err := call(step, env)
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Errorf("want a *BlockedError, got %v", err)
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Errorf("a refused address is retried: %v", err)
			}
		})
	}
	if n := c.conns.Load(); n != 0 {
		t.Errorf("the canary saw %d connections", n)
	}
}

// TestRedirectToMetadataIsNotFollowed: a 302 to the metadata address fails the step;
// nothing follows it, and the headers the step sent go nowhere else.
func TestRedirectToMetadataIsNotFollowed(t *testing.T) {
	c := newCanary(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer redirector.Close()
	// The redirector is on loopback: allowed here, as an operator would allow an API.
	step := loadStep(t, NewClient(NewGuard(loopback)), `
  step "http" "a" {
    url     = "`+redirector.URL+`"
    headers = { X-Api-Key = "k-123456" }
  }`)
	_, err := call(step, &workflows.Env{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusFound || se.Location != "http://169.254.169.254/latest/meta-data/" {
		t.Fatalf("got %v", err)
	}
	if n := c.conns.Load(); n != 0 {
		t.Errorf("the canary saw %d connections", n)
	}
}

// TestEnvironmentProxyIsIgnored: with HTTP_PROXY pointing at the canary, a call goes
// to its own address (here refused, as a documentation address), never to the proxy,
// which would dial on the guard's behalf.
func TestEnvironmentProxyIsIgnored(t *testing.T) {
	// net/http reads the environment's proxy once per process, so the call below
	// proves the point only when it runs first; the transport's setting proves it always.
	if NewClient(NewGuard(nil)).Transport.(*http.Transport).Proxy != nil {
		t.Fatal("the client takes a proxy")
	}
	c := newCanary(t)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:"+c.port)
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:"+c.port)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "http://198.51.100.7/" }`)
	_, err := call(step, &workflows.Env{})
	var be *BlockedError
	if !errors.As(err, &be) || be.Addr.String() != "198.51.100.7" {
		t.Errorf("want the call refused at its own address, got %v", err)
	}
	if n := c.conns.Load(); n != 0 {
		t.Errorf("the proxy saw %d connections", n)
	}
}

// TestHTTPStepKeepsEventValuesInTheirPlace: an event value in the path arrives as one
// segment, and one in the query as one value.
func TestHTTPStepKeepsEventValuesInTheirPlace(t *testing.T) {
	var path, query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, query = r.URL.EscapedPath(), r.URL.RawQuery
	}))
	defer srv.Close()
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "`+srv.URL+`/users/{{ event.body.id }}/notes?tag={{ event.body.id }}" }`)
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "a/admin?x=1&y"}}}
	if _, err := call(step, env); err != nil {
		t.Fatal(err)
	}
	if path != "/users/a%2Fadmin%3Fx=1&y/notes" || query != "tag=a%2Fadmin%3Fx%3D1%26y" {
		t.Errorf("path %q, query %q", path, query)
	}
}

// TestAmbiguousHostAsDialled: a numeric host written with characters past ASCII
// (ideographic or full-width dots, full-width digits, a soft hyphen IDNA drops) is
// judged as net/http dials it, once IDNA has mapped it to ASCII: "0177。0。0。1" is
// dialled as "0177.0.0.1", which some resolvers read as 127.0.0.1. It is refused
// before any connection even where loopback is allowed, as its ASCII form is.
func TestAmbiguousHostAsDialled(t *testing.T) {
	c := newCanary(t)
	client := NewClient(NewGuard(loopback))
	hosts := []string{
		"0177。0。0。1", "２１３０７０６４３３", "127。1", "0x7f。1", "0X7F．1", "127｡1", "127。1。",
		"0177\u00ad.0.0.1", "①②⑦.1", "0177%E3%80%820%E3%80%820%E3%80%821",
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			step := loadStep(t, client, `step "http" "a" { url = "{{ event.body.url }}" }`)
			env := &workflows.Env{Event: map[string]any{"body": map[string]any{"url": "http://" + host + ":" + c.port + "/"}}}
			_, err := call(step, env)
			var be *BlockedError
			if !errors.As(err, &be) || be.Addr.IsValid() {
				t.Fatalf("want a *BlockedError for the host, got %v", err)
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Errorf("a refused host is retried: %v", err)
			}
		})
	}
	// A request that comes by no step's URL check, such as an api's OAuth2 token
	// request, is refused by the client itself, at the host net/http dials.
	for _, host := range []string{"0177.0.0.1", "0177。0。0。1", "２１３０７０６４３３"} {
		t.Run("client/"+host, func(t *testing.T) {
			resp, err := client.Get("http://" + host + ":" + c.port + "/")
			if err == nil {
				resp.Body.Close()
			}
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("want a *BlockedError, got %v", err)
			}
		})
	}
	if n := c.conns.Load(); n != 0 {
		t.Errorf("the canary saw %d connections", n)
	}
	// Names and addresses written in full are not numeric hosts: they go on to the
	// address check, which allows loopback here.
	for _, host := range []string{"127。0。0。1", "１２７.０.０.１"} {
		if err := refusedHost(host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "müller.de", "例え.jp", "127.0.0.1", "xn--mller-kva.de"} {
		if err := refusedHost(host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}
