package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const stepCredentialsSrc = `
vars {
  api = env("STEP_CREDENTIALS_API")
}

workflow "literal" {
  trigger "webhook" {
    path = "/literal"
  }

  step "http" "bearer" {
    url     = "${vars.api}/echo"
    headers = { Authorization = "Bearer LITERALheaderTOKEN111" }
  }

  step "http" "basic" {
    url        = "${vars.api}/echo"
    basic_auth = { username = "u", password = "LITERALstepBASIC444" }
  }

  step "http" "keyed" {
    url     = "${vars.api}/echo?signature=LITERALurlSIG777"
    query   = { api_key = "LITERALqueryKEY555" }
    headers = { X-Api-Key = "LITERALapiKEY666", X-Run = "{{ run.id }}" }
  }

  step "log" "say" {
    message = "echoed {{ steps.bearer.body }} {{ steps.basic.body }} {{ steps.keyed.body }}"
  }

  step "http" "refused" {
    url     = "${vars.api}/refuse"
    headers = { Authorization = "Bearer LITERALheaderTOKEN111" }
  }
}
`

// stepCredentials are the credentials the workflow writes out in its steps, and the
// base64 of basic_auth's user:password.
var stepCredentials = []string{"LITERALheaderTOKEN111", "LITERALstepBASIC444", "dTpMSVRFUkFMc3RlcEJBU0lDNDQ0",
	"LITERALqueryKEY555", "LITERALapiKEY666", "LITERALurlSIG777"}

// Credentials written out in a workflow's steps, rather than read with secret(), are
// hidden as an api block's are when the API they are sent to echoes them back: in the
// run's JSON, its inspector page, the test exported of it, the log, and the error of
// a step whose answer repeats them.
func TestStepCredentialsHiddenWhenEchoed(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		for name := range r.Header {
			headers[name] = r.Header.Get(name)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusForbidden)
		}
		json.NewEncoder(w).Encode(map[string]any{"headers": headers, "query": r.URL.RawQuery})
	}))
	defer echo.Close()
	t.Setenv("STEP_CREDENTIALS_API", echo.URL)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "literal.hcl"), stepCredentialsSrc)
	var logBuf bytes.Buffer
	logs := &syncWriter{w: &logBuf}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: redistest.Real(t).URL,
		workers: 2, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)), logs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()

	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/literal", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("answered %d %v", status, answer)
	}
	run := waitRun(t, answer["status_url"].(string))
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
		for _, v := range stepCredentials {
			if strings.Contains(text, v) {
				t.Errorf("%s shows the credential %s:\n%s", where, v, text)
			}
		}
	}
	// The answers are shown, the credentials they echo [redacted].
	if msg, _ := run["error"].(string); run["status"] != "failed" || !strings.Contains(msg, "403") {
		t.Errorf("run %v: %q, want failed by the refused step", run["status"], msg)
	}
	for _, want := range []string{`Bearer [redacted]`, `Basic [redacted]`, `api_key=[redacted]`, `signature=[redacted]`} {
		if !strings.Contains(seen.String(), want) || !strings.Contains(logText, want) {
			t.Errorf("the history or the log does not show %s:\n%s\n%s", want, seen.String(), logText)
		}
	}
	if !strings.Contains(logText, "Credential written in the file") {
		t.Errorf("the load does not warn of the credentials written in the file:\n%s", logText)
	}
}
