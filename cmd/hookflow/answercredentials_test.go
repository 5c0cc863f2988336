package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const answerCredentialsSrc = `
vars {
  api = env("ANSWER_CREDENTIALS_API")
}

workflow "login" {
  trigger "webhook" {
    path = "/login"
  }

  step "http" "cookie" {
    url = "${vars.api}/login"
  }

  step "log" "say" {
    message = "got {{ steps.cookie.headers }} in dark-mode"
  }

  step "http" "again" {
    url  = "${vars.api}/echo"
    json = { cookie = "{{ steps.cookie.headers[\"set-cookie\"] }}", key = "{{ steps.cookie.headers[\"x-api-key\"] }}" }
  }
}
`

// The values of the credential headers of an http step's answer (Set-Cookie, an
// echoed X-Api-Key), [redacted] in its output as the history shows it, are hidden
// like secrets where a later step writes them again: a log step's message and the
// output of a step whose answer repeats them, in the run's JSON, its inspector page,
// the test exported of it and the log. The later step that sends them on sends them
// as they came.
func TestAnswerCredentialsHiddenWhereWrittenAgain(t *testing.T) {
	const cookie, key = "SESSIONcookieVAL9x81", "ECHOEDapiKEY4471zz"
	sent := make(chan string, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/login" {
			w.Header().Add("Set-Cookie", "sid="+cookie+"; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly")
			w.Header().Add("Set-Cookie", "theme=dark-mode; Path=/")
			w.Header().Set("X-Api-Key", key)
			io.WriteString(w, `{}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		select {
		case sent <- string(body):
		default:
		}
		w.Write(body)
	}))
	defer api.Close()
	t.Setenv("ANSWER_CREDENTIALS_API", api.URL)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "login.hcl"), answerCredentialsSrc)
	var logBuf bytes.Buffer
	logs := &syncWriter{w: &logBuf}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: redistest.Real(t).URL,
		workers: 2, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)), logs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()

	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/login", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("answered %d %v", status, answer)
	}
	run := waitRun(t, answer["status_url"].(string))
	if run["status"] != "succeeded" {
		t.Fatalf("run %v: %v", run["status"], run["error"])
	}
	if body := <-sent; !strings.Contains(body, cookie) || !strings.Contains(body, key) {
		t.Errorf("the later step sent %s, want the cookie and the key as they came", body)
	}
	id := run["id"].(string)
	var seen strings.Builder
	for _, path := range []string{"/api/v1/runs/" + id, "/runs/" + id, "/api/v1/runs/" + id + "/test"} {
		resp, err := http.Get("http://" + s.adminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s answered %d: %s", path, resp.StatusCode, data)
		}
		seen.WriteString(path + ":\n")
		seen.Write(data)
	}
	logs.mu.Lock()
	logText := logBuf.String()
	logs.mu.Unlock()
	for where, text := range map[string]string{"the history": seen.String(), "the log": logText} {
		for _, v := range []string{cookie, key} {
			if strings.Contains(text, v) {
				t.Errorf("%s shows the credential %s:\n%s", where, v, text)
			}
		}
		if !strings.Contains(text, "got {") || !strings.Contains(text, "[redacted]") {
			t.Errorf("%s does not show the log step's message, the credentials [redacted]:\n%s", where, text)
		}
	}
	// A cookie's value that is a word is no credential: hidden, it would hide that word
	// wherever the run writes it.
	if !strings.Contains(logText, "in dark-mode") {
		t.Errorf("the log hides more than the credentials:\n%s", logText)
	}
}
