package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// serve with an admin token: the API answers nothing without it, the CLI sends it
// from HOOKFLOW_ADMIN_TOKEN (or the file HOOKFLOW_ADMIN_TOKEN_FILE names), and the
// read-only token reads but cannot replay.
func TestAdminToken(t *testing.T) {
	const op, read = "operator-0123456789abcdef", "reader-0123456789abcdef"
	cfg := serveConfig{dir: testutil.WriteRelay(t), listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1,
		access: accessConfig{token: op, readToken: read}}
	t.Setenv("FAULT_API", "http://127.0.0.1:1")
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })

	resp, err := http.Get("http://" + s.adminAddr + "/api/v1/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d", resp.StatusCode)
	}
	cli := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", "")
	if out, err := cli("runs", "list"); err == nil || !strings.Contains(out+err.Error(), "needs a token") {
		t.Errorf("the CLI without a token: %v\n%s", err, out)
	}
	// A token sent and refused is told from none.
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", "wrong-0123456789abcdef")
	if out, err := cli("runs", "list"); err == nil || !strings.Contains(out+err.Error(), "the token was refused") || strings.Contains(out+err.Error(), "needs a token") {
		t.Errorf("the CLI with a wrong token: %v\n%s", err, out)
	}
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", op)
	if out, err := cli("runs", "list"); err != nil {
		t.Errorf("the CLI with the operator token: %v\n%s", err, out)
	}
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", "")
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(read+"\n"), 0o600)
	t.Setenv("HOOKFLOW_ADMIN_READ_TOKEN_FILE", file)
	if out, err := cli("workflows"); err != nil {
		t.Errorf("the CLI with the read-only token from a file: %v\n%s", err, out)
	}
	if out, err := cli("runs", "replay", "nope"); err == nil || !strings.Contains(out+err.Error(), "may only read") {
		t.Errorf("a replay with the read-only token: %v\n%s", err, out)
	}
}

// Without a token, serve refuses to put the admin API beyond loopback, and says how.
func TestAdminRefusesToListenOpenly(t *testing.T) {
	cfg := serveConfig{dir: t.TempDir(), listen: "127.0.0.1:0", admin: "0.0.0.0:0", workers: 1}
	_, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Fatalf("got %v, want a refusal naming --admin-token", err)
	}
	cfg.access.token = "short"
	if _, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("a short token: %v", err)
	}
}

// Two serve processes share one Redis and one admin token: a browser signed in at one
// and signed out there keeps its cookie refused at both, while another session goes on.
func TestSignOutEndsTheSessionEverywhere(t *testing.T) {
	const op = "operator-0123456789abcdef"
	b := redistest.Real(t)
	var servers []*server
	for range 2 {
		cfg := serveConfig{dir: t.TempDir(), listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1,
			redisURL: b.URL, access: accessConfig{token: op}}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.shutdown() })
		servers = append(servers, s)
	}
	send := func(s *server, method, path string, c *http.Cookie) *http.Response {
		t.Helper()
		return testutil.BrowserRequest(t, "http://"+s.adminAddr, method, path, c, nil)
	}
	signIn := func() *http.Cookie { return testutil.SignIn(t, "http://"+servers[0].adminAddr, op) }
	saved, other := signIn(), signIn()
	if r := send(servers[1], "GET", "/api/v1/runs", saved); r.StatusCode != http.StatusOK {
		t.Fatalf("the session at the other serve: %d", r.StatusCode)
	}
	if r := send(servers[0], "POST", "/logout", saved); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing out: %d", r.StatusCode)
	}
	for i, s := range servers {
		if r := send(s, "GET", "/api/v1/runs", saved); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("serve %d takes the cookie signed out: %d", i, r.StatusCode)
		}
		if r := send(s, "GET", "/", saved); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("serve %d opens a page with the cookie signed out: %d", i, r.StatusCode)
		}
		if r := send(s, "GET", "/api/v1/runs", other); r.StatusCode != http.StatusOK {
			t.Errorf("serve %d refuses the other session: %d", i, r.StatusCode)
		}
	}
}

// serve hides resume tokens from the read-only token with the key: a signature written
// apart from its URL is redacted too, where the token's shape alone would not find
// it, while the operator sees what was recorded.
func TestReaderSeesNoSignature(t *testing.T) {
	const op, read = "operator-0123456789abcdef", "reader-0123456789abcdef"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ask.hcl"), `workflow "ask" {
  trigger "webhook" {
    path = "/ask"
  }
  step "log" "say" {
    message = "{{ resume_url('approval') }} signed {{ split(resume_url('approval'), '.')[1] }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 1,
		access: accessConfig{token: op, readToken: read}}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	resp, err := http.Post("http://"+s.publicAddr+"/hooks/ask", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		RunID string `json:"run_id"`
	}
	json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	runAs := func(token string) string {
		req, _ := http.NewRequest("GET", "http://"+s.adminAddr+"/api/v1/runs/"+started.RunID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	var sig string
	testutil.Eventually(t, 10*time.Second, "the run's log step", func() bool {
		m := regexp.MustCompile(`/resume/[A-Za-z0-9_-]+\.([A-Za-z0-9_-]{22}) signed `).FindStringSubmatch(runAs(op))
		if m != nil {
			sig = m[1]
		}
		return m != nil
	})
	if got := runAs(read); strings.Contains(got, sig) || !strings.Contains(got, "[redacted] signed [redacted]") {
		t.Errorf("the reader sees the signature %s:\n%s", sig, got)
	}
}

// On the admin listener, a method a route does not take is 405 with Allow, the API's,
// the pages' and /metrics alike, and an unknown path 404.
func TestAdminWrongMethods(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), "workflow \"w\" {\n  step \"log\" \"x\" {\n    message = \"hi\"\n  }\n}\n")
	s := serveDir(t, dir, redistest.Mini(t).URL, "127.0.0.1:0")
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/api/v1/runs", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/api/v1/reload", http.StatusMethodNotAllowed, "POST"},
		{"POST", "/readyz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/dlq", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/api/v1/nosuch", http.StatusNotFound, ""},
		{"POST", "/nosuch", http.StatusNotFound, ""},
		{"GET", "/metrics", http.StatusOK, ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://"+s.adminAddr+c.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow {
				t.Errorf("%d Allow %q, want %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"), c.status, c.allow)
			}
		})
	}
}

// Each command that calls the admin API says, in its help, where its token comes from:
// a 401 should not be the first place a user learns of it.
func TestAdminCommandsHelpNamesTheToken(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"workflows"}, {"runs", "list"}, {"dlq", "list"}} {
		stdout, _, err := hookflowCLI(t, append(args, "--help")...)
		if err != nil || !strings.Contains(stdout, "HOOKFLOW_ADMIN_TOKEN") || !strings.Contains(stdout, "HOOKFLOW_ADMIN_READ_TOKEN") {
			t.Errorf("%v --help: %v\n%s", args, err, stdout)
		}
	}
}
