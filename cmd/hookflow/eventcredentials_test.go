package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const eventCredentialsSrc = `
workflow "filtered" {
  trigger "webhook" {
    path = "/filtered"
  }

  filter = "int(event.body.password) > 1"
}

workflow "query" {
  trigger "webhook" {
    path = "/query"
  }

  step "log" "say" {
    message = "query {{ event.query }}"
  }
}
`

// TestEventCredentialsNeverLeak sends webhooks carrying credentials in body fields
// and query parameters named as such, to workflows that write them again where a
// careless engine would show them: a filter's error, a log step. The run history
// (the admin API, the inspector, runs list) and the log show them [redacted].
func TestEventCredentialsNeverLeak(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "creds.hcl"), eventCredentialsSrc)
		var logs syncWriter
		var logBuf bytes.Buffer
		logs.w = &logBuf
		cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: b.URL, workers: 2}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
		if err != nil {
			t.Fatal(err)
		}
		defer s.shutdown()

		status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/filtered", `{"user": "ada", "password": "notanumber-bodypass1"}`)
		if status != http.StatusAccepted {
			t.Fatalf("answered %d %v", status, answer)
		}
		run := waitRun(t, answer["status_url"].(string))
		if msg, _ := run["error"].(string); run["status"] != "failed" || !strings.Contains(msg, "int([redacted])") {
			t.Errorf("run %v: %q, want failed by the filter, the value [redacted]", run["status"], msg)
		}

		status, answer = postJSON(t, "http://"+s.publicAddr+"/hooks/query?token=qt-5f6e7d8c&api_key=qk-9a8b7c6d&page=page-2", `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("answered %d %v", status, answer)
		}
		queried := waitRun(t, answer["status_url"].(string))
		if queried["status"] != "succeeded" {
			t.Errorf("run %v: %v", queried["status"], queried["error"])
		}
		event, _ := queried["event"].(map[string]any)
		if q, _ := json.Marshal(event["query"]); string(q) != `{"api_key":["[redacted]"],"page":["page-2"],"token":["[redacted]"]}` {
			t.Errorf("the run's event shows the query %s", q)
		}

		var seen strings.Builder
		for _, path := range []string{"/api/v1/runs/" + run["id"].(string), "/api/v1/runs/" + queried["id"].(string),
			"/api/v1/runs", "/runs/" + run["id"].(string), "/runs/" + queried["id"].(string)} {
			resp, err := http.Get("http://" + s.adminAddr + path)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen.Write(data)
		}
		if err := run_(t, &seen, "runs", "list", "--admin", s.adminAddr); err != nil {
			t.Fatal(err)
		}
		logs.mu.Lock()
		logText := logBuf.String()
		logs.mu.Unlock()
		for where, text := range map[string]string{"the history": seen.String(), "the log": logText} {
			for _, v := range []string{"bodypass1", "qt-5f6e7d8c", "qk-9a8b7c6d"} {
				if strings.Contains(text, v) {
					t.Errorf("%s shows the credential %s:\n%s", where, v, text)
				}
			}
		}
		if !strings.Contains(logText, "int([redacted])") || !strings.Contains(logText, "page-2") {
			t.Errorf("the log does not show the filter's failure and the query:\n%s", logText)
		}
		if !strings.Contains(seen.String(), `id="event-query"`) {
			t.Errorf("the run's page does not show the event's query:\n%s", seen.String())
		}
	})
}
