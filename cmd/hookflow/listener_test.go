package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/triggers"
)

// dialFrom connects to addr from the loopback address from (127.0.0.2, …), which the
// public listener takes for a client of its own, and closes the connection when the
// test ends (before hookflow shuts down, as the test's cleanups run last first).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// postFrom posts body as JSON to url from the loopback address from, on a connection of
// its own, and returns the status and the answer's body.
func postFrom(t *testing.T, from, url, body string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

// inFlight is the count of webhook requests the server is handling.
func inFlight(s *server) int {
	s.intake.mu.Lock()
	defer s.intake.mu.Unlock()
	return s.intake.n
}

// From each of four addresses, 128 connections declare a body of 1,000,000 bytes and
// send one byte of it, then stall. They hold none of the memory for bodies in progress
// (taken as bytes arrive), so a webhook from a fifth address is taken, not answered
// "too many webhook bodies in progress".
func TestStalledUploadsHoldNoBodyBudget(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveDir(t, testutil.WriteRelay(t), "", "127.0.0.1:0")
	const perAddress = 128
	for a := 2; a <= 5; a++ {
		for range perAddress {
			c := dialFrom(t, fmt.Sprintf("127.0.0.%d", a), s.publicAddr)
			fmt.Fprintf(c, "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
		}
	}
	testutil.Eventually(t, 20*time.Second, "the stalled uploads to reach the receiver", func() bool { return inFlight(s) == 4*perAddress })
	if status, body := postFrom(t, "127.0.0.6", "http://"+s.publicAddr+"/hooks/relay", `{"n": 1}`); status != http.StatusAccepted {
		t.Errorf("a webhook beside %d stalled uploads: %d %s", 4*perAddress, status, body)
	}
}

// openFrom is the count of open connections the public listener has from the client of
// the address from.
func openFrom(s *server, from string) int64 {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	if cc := s.conns.clients[triggers.ClientOf(from)]; cc != nil {
		return cc.open.Load()
	}
	return 0
}

// One address holding idle connections past its share of --max-conns (a quarter) has
// its own requests answered 503, and leaves the rest of the cap to others: a webhook
// from another address is taken, as it is again from that address once it closes them.
func TestOneAddressHoldsAShareOfTheConnections(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveWith(t, serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		workers: 1, maxConns: 40})
	var idle []net.Conn
	for range 60 { // more than the whole cap
		idle = append(idle, dialFrom(t, "127.0.0.2", s.publicAddr))
	}
	testutil.Eventually(t, 10*time.Second, "the idle connections counted", func() bool { return openFrom(s, "127.0.0.2") == 60 })
	if n := s.conns.counted.Load(); n != 10 {
		t.Errorf("%d connections counted against the cap, want the address's share of 10", n)
	}
	url := "http://" + s.publicAddr + "/hooks/relay"
	if status, body := postFrom(t, "127.0.0.3", url, `{"n": 1}`); status != http.StatusAccepted {
		t.Errorf("from another address: %d %s", status, body)
	}
	status, body := postFrom(t, "127.0.0.2", url, `{"n": 2}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "from this address") {
		t.Errorf("from the address past its share: %d %s", status, body)
	}
	for _, c := range idle {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, "the idle connections closed", func() bool { return openFrom(s, "127.0.0.2") == 0 })
	if status, body := postFrom(t, "127.0.0.2", url, `{"n": 3}`); status != http.StatusAccepted {
		t.Errorf("from the address once it closed its connections: %d %s", status, body)
	}
}

// A request with both Content-Length and Transfer-Encoding: chunked is answered with
// Connection: close, and the connection closed (RFC 9112, 6.3): the request pipelined
// after it on the connection, which a proxy in front may not have sent as one, is not
// answered. So is every chunked request, which the server cannot tell from it.
func TestChunkedWithContentLengthClosesTheConnection(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveDir(t, testutil.WriteRelay(t), "", "127.0.0.1:0")
	next := "GET /healthz HTTP/1.1\r\nHost: hookflow\r\n\r\n"
	for _, c := range []struct {
		name, head string
		status     int
	}{
		{"both", "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: 8\r\nTransfer-Encoding: chunked\r\n\r\n", http.StatusAccepted},
		{"both, Content-Length first", "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n", http.StatusAccepted},
		{"both, no webhook there", "POST /hooks/nowhere HTTP/1.1\r\nHost: hookflow\r\nContent-Length: 8\r\nTransfer-Encoding: chunked\r\n\r\n", http.StatusNotFound},
		{"chunked", "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", http.StatusAccepted},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dialFrom(t, "127.0.0.1", s.publicAddr)
			io.WriteString(conn, c.head+"8\r\n{\"n\": 1}\r\n0\r\n\r\n"+next)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !resp.Close {
				t.Errorf("%d, Connection: close %v; want %d and close", resp.StatusCode, resp.Close, c.status)
			}
			rest, err := io.ReadAll(br)
			if len(rest) > 0 || err != nil {
				t.Errorf("after the answer, the connection gave %q, %v; want it closed, the next request unanswered", rest, err)
			}
		})
	}
	// A request with a Content-Length alone keeps its connection.
	conn := dialFrom(t, "127.0.0.1", s.publicAddr)
	io.WriteString(conn, "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"n\": 1}"+next)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for _, want := range []int{http.StatusAccepted, http.StatusOK} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("with a Content-Length alone, the answer %d: %v", want, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || resp.Close {
			t.Errorf("with a Content-Length alone: %d, close %v; want %d, kept open", resp.StatusCode, resp.Close, want)
		}
	}
}

// metricsOf is what GET /metrics on the admin address answers.
func metricsOf(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// holdShare opens n idle connections to s from the address from, and waits until the
// listener counts them.
func holdShare(t *testing.T, s *server, from string, n int) {
	t.Helper()
	for range n {
		dialFrom(t, from, s.publicAddr)
	}
	testutil.Eventually(t, 10*time.Second, "the idle connections counted", func() bool { return openFrom(s, from) == int64(n) })
}

// A webhook refused because its address holds more than its share of --max-conns is
// counted in hookflow_events_rejected_total{reason="overloaded"}.
func TestRefusalsPastTheConnectionCapAreCounted(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveWith(t, serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		workers: 1, maxConns: 8})
	hasLines(t, func() string { return metricsOf(t, s) }, `hookflow_events_rejected_total{reason="overloaded"} 0`)
	holdShare(t, s, "127.0.0.2", 4) // the share is 2
	url := "http://" + s.publicAddr + "/hooks/relay"
	for i := range 3 {
		if status, body := postFrom(t, "127.0.0.2", url, `{"n": 1}`); status != http.StatusServiceUnavailable {
			t.Fatalf("webhook %d from the address past its share: %d %s", i, status, body)
		}
	}
	hasLines(t, func() string { return metricsOf(t, s) }, `hookflow_events_rejected_total{reason="overloaded"} 3`)
}

// The client a connection counts for is its address: X-Forwarded-For and Forwarded,
// which any sender can write, neither move a request of an address past its share to
// another client, nor put another address's request in the one past its share.
func TestForwardedHeadersDoNotNameTheClient(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveWith(t, serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		workers: 1, maxConns: 8})
	holdShare(t, s, "127.0.0.2", 4) // the share is 2
	url := "http://" + s.publicAddr + "/hooks/relay"
	post := func(from string, header http.Header) (int, string) {
		t.Helper()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
		req, err := http.NewRequest("POST", url, strings.NewReader(`{"n": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	for _, c := range []struct {
		name, from string
		header     http.Header
		want       int
	}{
		{"X-Forwarded-For from the address past its share", "127.0.0.2", http.Header{"X-Forwarded-For": {"198.51.100.7"}}, http.StatusServiceUnavailable},
		{"Forwarded from the address past its share", "127.0.0.2", http.Header{"Forwarded": {"for=198.51.100.7"}}, http.StatusServiceUnavailable},
		{"X-Real-Ip from the address past its share", "127.0.0.2", http.Header{"X-Real-Ip": {"198.51.100.7"}}, http.StatusServiceUnavailable},
		{"X-Forwarded-For naming the address past its share", "127.0.0.3", http.Header{"X-Forwarded-For": {"127.0.0.2"}}, http.StatusAccepted},
		{"Forwarded naming the address past its share", "127.0.0.3", http.Header{"Forwarded": {"for=127.0.0.2"}}, http.StatusAccepted},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, body := post(c.from, c.header); status != c.want {
				t.Errorf("%d %s, want %d", status, body, c.want)
			}
		})
	}
}

// The webhook listener's limits are those docs/operations.md states: headers within
// 5 s and of 64 KiB at most, a whole request within 30 s.
func TestListenerLimits(t *testing.T) {
	want := httpLimits{headers: 5 * time.Second, request: 30 * time.Second, write: 60 * time.Second,
		idle: 120 * time.Second, headerBytes: 64 << 10}
	if listenerLimits != want {
		t.Errorf("listener limits %+v, want %+v", listenerLimits, want)
	}
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveDir(t, testutil.WriteRelay(t), "", "127.0.0.1:0")
	if p := s.public; p.ReadHeaderTimeout != want.headers || p.ReadTimeout != want.request || p.MaxHeaderBytes != want.headerBytes ||
		p.IdleTimeout != want.idle {
		t.Errorf("the webhook listener has ReadHeaderTimeout %v, ReadTimeout %v, MaxHeaderBytes %d, IdleTimeout %v; want %+v",
			p.ReadHeaderTimeout, p.ReadTimeout, p.MaxHeaderBytes, p.IdleTimeout, want)
	}
	// The docs give the idle timeout of a kept-alive connection, beside the 5 s a new
	// one has for its first request.
	for doc, says := range map[string]string{
		"../../docs/security.md":   "A kept-alive connection waiting for its next request is\nclosed after 120 s idle",
		"../../docs/operations.md": "| a kept-alive connection waiting for its next request | 120 s;",
	} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), says) {
			t.Errorf("%s does not say %q", doc, says)
		}
	}
}

// Headers past 64 KiB are answered 431 and the connection closed; headers within it
// are taken.
func TestHeadersPastTheCap(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveDir(t, testutil.WriteRelay(t), "", "127.0.0.1:0")
	for _, c := range []struct {
		name  string
		bytes int
		want  int
	}{
		{"60 KiB", 60 << 10, http.StatusAccepted},
		{"80 KiB", 80 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dialFrom(t, "127.0.0.1", s.publicAddr)
			fmt.Fprintf(conn, "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nX-Padding: %s\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"n\": 1}",
				strings.Repeat("x", c.bytes))
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("%d, want %d", resp.StatusCode, c.want)
			}
			if c.want == http.StatusRequestHeaderFieldsTooLarge {
				if rest, err := io.ReadAll(br); len(rest) > 0 || err != nil {
					t.Errorf("after the 431, the connection gave %q, %v; want it closed", rest, err)
				}
			}
		})
	}
}

// A connection that sends no request is closed once the header timeout passes (5 s),
// without an answer.
func TestAConnectionWithoutARequestIsClosed(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	s := serveDir(t, testutil.WriteRelay(t), "", "127.0.0.1:0")
	conn := dialFrom(t, "127.0.0.1", s.publicAddr)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the connection was not closed: %v", err)
	}
	if len(got) > 0 {
		t.Errorf("a connection without a request was answered %q", got)
	}
}

// A request whose body has not all arrived when the request timeout passes is answered
// 408, its connection closed, and counted as a read_error. The timeouts are shortened
// here; TestListenerLimits holds the real ones.
func TestAWholeRequestWithinTheRequestTimeout(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	limits := listenerLimits
	limits.headers, limits.request = time.Second, 2*time.Second
	s := serveWith(t, serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		workers: 1, maxConns: 4096, limits: &limits})
	conn := dialFrom(t, "127.0.0.1", s.publicAddr)
	io.WriteString(conn, "POST /hooks/relay HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\":")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a request whose body stalled: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("%d, close %v (%s); want 408 and the connection closed", resp.StatusCode, resp.Close, body)
	}
	hasLines(t, func() string { return metricsOf(t, s) }, `hookflow_events_rejected_total{reason="read_error"} 1`)
}
