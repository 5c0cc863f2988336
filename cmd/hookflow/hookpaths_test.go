package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The public listener hands a webhook path that is not clean to the webhook receiver
// as it came, which answers 400 with the reason, rather than to its mux, which would
// redirect it to the clean form with an empty body. Clean paths, /healthz and the rest
// are served as before.
func TestServeRefusesMalformedWebhookPaths(t *testing.T) {
	dir := t.TempDir()
	src := `workflow "open" {
  trigger "webhook" {
    path = "/open/{id}"
  }
}

workflow "bearer" {
  trigger "webhook" {
    path = "/bearer"
    verify "bearer" {
      tokens = ["a-long-enough-token"]
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "paths.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serveDir(t, dir, redistest.Mini(t).URL, "127.0.0.1:0")
	for _, tc := range []struct {
		method, path string
		status       int
		reason       string // in the answer
	}{
		{"POST", "/hooks/open/1", http.StatusAccepted, "run_id"},
		{"POST", "/hooks//open/1", http.StatusBadRequest, `send it in its clean form, \"/hooks/open/1\"`},
		{"POST", "//hooks/open/1", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/open/..", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/./bearer", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/..", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/elsewhere/../hooks/open/1", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/open/%00", http.StatusBadRequest, "holds a control character"},
		{"POST", "/hooks/bearer", http.StatusUnauthorized, "no bearer token"},
		{"GET", "/healthz", http.StatusOK, "ok"},
		{"POST", "/hooks", http.StatusNotFound, "no webhook at /hooks"},
		{"POST", "/hooks/", http.StatusNotFound, "no webhook at /hooks/"},
		// A resume URL's path, clean or not, names a wait or none: never a redirect.
		{"POST", "/resume//x.y", http.StatusNotFound, "no wait at this address"},
		{"GET", "/resume/../resume/x.y", http.StatusNotFound, "no wait at this address"},
		{"POST", "/elsewhere/../resume/x.y", http.StatusNotFound, "no wait at this address"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := testutil.RawRequest(t, s.publicAddr, tc.method, tc.path)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("%d %s, want %d with %s", status, body, tc.status, tc.reason)
			}
			if status == http.StatusBadRequest && !json.Valid([]byte(body)) {
				t.Errorf("the reason is not JSON: %s", body)
			}
		})
	}
}

// The admin API answers JSON to every path that is its own, clean or not, as docs/api.md
// says: a mux would redirect /api to /api/, and //, . and .. to the clean form, with an
// HTML body. With tokens, such a path without one is refused as the API refuses, in
// JSON, not sent to the sign-in form as a page is; with one, it is answered as without
// tokens. Every answer of the API carries Hookflow-Admin. The run inspector's pages are
// served as before.
func TestAdminAPIAnswersJSONToEveryPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.hcl"), []byte("workflow \"w\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const op = "operator-0123456789abcdef"
	open := serveDir(t, dir, "", "127.0.0.1:0")
	guarded := serveWith(t, serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1,
		access: accessConfig{token: op}})
	type answer struct {
		status int
		reason string // in the answer
	}
	refused := answer{http.StatusUnauthorized, "the admin API needs a token"}
	for _, tc := range []struct {
		method, path          string
		open, signedOut, auth answer // without tokens; with tokens, without one and with one
	}{
		{"GET", "/api/v1/runs", answer{http.StatusOK, `"runs"`}, refused, answer{http.StatusOK, `"runs"`}},
		{"OPTIONS", "/api/v1/runs", answer{http.StatusMethodNotAllowed, "OPTIONS is not allowed at /api/v1/runs"}, refused,
			answer{http.StatusMethodNotAllowed, "OPTIONS is not allowed at /api/v1/runs"}},
		{"GET", "/api", answer{http.StatusNotFound, "no such endpoint: GET /api"}, refused, answer{http.StatusNotFound, "no such endpoint: GET /api"}},
		{"GET", "/api/", answer{http.StatusNotFound, "no such endpoint: GET /api/"}, refused, answer{http.StatusNotFound, "no such endpoint: GET /api/"}},
		{"GET", "/api/v1/runs//x", answer{http.StatusNotFound, "no such endpoint: GET /api/v1/runs//x (a path with //, . or .. names none)"}, refused,
			answer{http.StatusNotFound, "(a path with //, . or .. names none)"}},
		{"POST", "/api/v1/runs/x/../y/cancel", answer{http.StatusNotFound, "no such endpoint"}, refused, answer{http.StatusNotFound, "no such endpoint"}},
		{"GET", "/elsewhere/../api/v1/runs", answer{http.StatusNotFound, "no such endpoint"}, refused, answer{http.StatusNotFound, "no such endpoint"}},
		{"GET", "/x/../api", answer{http.StatusNotFound, "no such endpoint"}, refused, answer{http.StatusNotFound, "no such endpoint"}},
		{"GET", "//api/v1/workflows", answer{http.StatusNotFound, "no such endpoint"}, refused, answer{http.StatusNotFound, "no such endpoint"}},
		{"GET", "/healthz", answer{http.StatusOK, "ok"}, answer{http.StatusOK, "ok"}, answer{http.StatusOK, "ok"}},
		{"GET", "/workflows", answer{http.StatusOK, "<html"}, answer{http.StatusSeeOther, ""}, answer{http.StatusOK, "<html"}},
		{"GET", "/nowhere", answer{http.StatusNotFound, "There is no page at /nowhere."}, answer{http.StatusSeeOther, ""},
			answer{http.StatusNotFound, "There is no page at /nowhere."}},
	} {
		for _, c := range []struct {
			name, addr, token string
			want              answer
		}{
			{"without tokens", open.adminAddr, "", tc.open},
			{"with tokens, without one", guarded.adminAddr, "", tc.signedOut},
			{"with tokens, with one", guarded.adminAddr, op, tc.auth},
		} {
			t.Run(tc.method+" "+tc.path+" "+c.name, func(t *testing.T) {
				resp, body := rawAdminRequest(t, c.addr, tc.method, tc.path, c.token)
				if resp.StatusCode != c.want.status || !strings.Contains(body, c.want.reason) {
					t.Errorf("%d %s, want %d with %s", resp.StatusCode, body, c.want.status, c.want.reason)
				}
				if !strings.Contains(tc.path, "api") {
					return
				}
				if !json.Valid([]byte(body)) {
					t.Errorf("the answer is not JSON: %s", body)
				}
				if v := resp.Header.Get("Hookflow-Admin"); v != "v1" {
					t.Errorf("Hookflow-Admin: %q, want v1", v)
				}
			})
		}
	}
}

// rawAdminRequest sends a request for path as written, which http.NewRequest would
// clean, naming a loopback Host, which the admin API answers to; with token, as the
// bearer token.
func rawAdminRequest(t *testing.T, addr, method, path, token string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", method, path, auth)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

// The public listener serves the webhooks, the resume URLs and /healthz, and nothing of
// the admin listener: not the API, the metrics, /readyz, the inspector or its sign-in.
// Every answer says X-Content-Type-Options: nosniff, those refusing a request while
// shutting down too.
func TestPublicListenerServesOnlyHooksResumesAndHealth(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": hookSrc("w")})
	s := serveDir(t, dir, redistest.Mini(t).URL, "127.0.0.1:0")
	type request struct {
		method, path string
		status       int
	}
	do := func(tc request) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(tc.method, "http://"+s.publicAddr+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s on --listen: %d with X-Content-Type-Options %q, want nosniff", tc.method, tc.path, resp.StatusCode, got)
		}
		return resp, body
	}
	for _, tc := range []request{
		{"POST", "/hooks/w", http.StatusAccepted},
		{"POST", "/hooks/nowhere", http.StatusNotFound},
		{"POST", "/hooks//w", http.StatusBadRequest},
		{"GET", "/resume/x.y", http.StatusNotFound}, // the resume URLs' own 404: no such wait
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/api/v1/runs", http.StatusNotFound},
		{"POST", "/api/v1/workflows/w/runs", http.StatusNotFound},
		{"GET", "/metrics", http.StatusNotFound},
		{"GET", "/readyz", http.StatusNotFound},
		{"GET", "/", http.StatusNotFound},
		{"GET", "/runs/r1", http.StatusNotFound},
		{"GET", "/login", http.StatusNotFound},
		{"GET", "/assets/inspector.js", http.StatusNotFound},
	} {
		resp, body := do(tc)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s on --listen: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.path == "/resume/x.y" && !strings.Contains(string(body), "no wait at this address") {
			t.Errorf("GET %s on --listen is not the resume URLs': %s", tc.path, body)
		}
	}
	s.draining.Store(true)
	for _, tc := range []request{{"POST", "/hooks/w", http.StatusServiceUnavailable}, {"POST", "/resume/x.y", http.StatusServiceUnavailable}} {
		if resp, body := do(tc); resp.StatusCode != tc.status {
			t.Errorf("%s %s while shutting down: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
	}
	s.draining.Store(false)
}
