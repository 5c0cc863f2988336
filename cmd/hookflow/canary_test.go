package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

const canarySecret = "canary-7f3a9c-s3cr3t"

const canarySrc = `
vars {
  api   = env("CANARY_API")
  token = secret("CANARY_TOKEN")
}

# Every way a step can fail, each carrying the secret where a careless engine would
# repeat it: in a header, the path, the query and the body of the request, in an API
# answer that echoes it, and in a log line.
workflow "leaky" {
  trigger "webhook" {
    path = "/leaky"
  }

  step "log" "say" {
    message = "token is ${vars.token}"
  }

  step "http" "echoed" {
    url      = "${vars.api}/echo"
    headers  = { Authorization = "Bearer ${vars.token}" }
    json     = { token = "${vars.token}" }
    expect   = [201]
    on_error = "continue"
  }

  step "http" "server_error" {
    url      = "${vars.api}/fail/${vars.token}"
    query    = { key = "${vars.token}" }
    on_error = "continue"
    retry {
      attempts = 2
      initial  = "10ms"
    }
  }

  step "http" "refused_address" {
    url      = "http://10.9.9.9/hook/${vars.token}"
    on_error = "continue"
  }

  step "http" "connection_refused" {
    url      = "http://127.0.0.1:1/hook/${vars.token}"
    on_error = "continue"
  }

  step "http" "too_slow" {
    url      = "${vars.api}/slow/${vars.token}"
    timeout  = "100ms"
    on_error = "continue"
  }

  step "http" "bad_template" {
    url = "${vars.api}/x/${vars.token}?n={{ event.body.missing.deeper }}"
  }
}

# A secret in a webhook's path (the URL is the credential) and in conditions: the
# workflow list and the start-up log show them.
workflow "secret_path" {
  trigger "webhook" {
    path = "/in/${vars.token}"
  }

  filter = "event.body.key != '${vars.token}'"

  step "log" "hello" {
    if      = "event.body.key != '${vars.token}'"
    message = "hello"
  }
}
`

// TestSecretsNeverLeak runs a secret through every failure path a step has and looks
// for it everywhere hookflow writes: its log, the run history, the dead letters, the
// metrics and the status.
func TestSecretsNeverLeak(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			switch {
			case strings.HasPrefix(r.URL.Path, "/echo"):
				// An API that repeats what it got, in a header and its body.
				w.Header().Set("X-Echo", r.Header.Get("Authorization"))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write(body)
			case strings.HasPrefix(r.URL.Path, "/slow"):
				time.Sleep(300 * time.Millisecond)
			default:
				http.Error(w, "failed for "+r.URL.String(), http.StatusInternalServerError)
			}
		}))
		defer api.Close()
		t.Setenv("CANARY_API", api.URL)
		t.Setenv("CANARY_TOKEN", canarySecret)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "leaky.hcl"), []byte(canarySrc), 0o644); err != nil {
			t.Fatal(err)
		}
		var logs syncWriter
		var buf bytes.Buffer
		logs.w = &buf
		cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: b.URL,
			workers: 8, allowNet: loopback}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
		if err != nil {
			t.Fatal(err)
		}
		defer s.shutdown()

		status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/leaky", `{"n": 1}`)
		if status != http.StatusAccepted {
			t.Fatalf("answered %d %v", status, answer)
		}
		run := waitRun(t, answer["status_url"].(string))
		if run["status"] != "failed" {
			t.Errorf("run %v, want failed at bad_template", run["status"])
		}
		// Each step failed the way it was meant to, so each path was taken.
		for _, st := range run["steps"].([]any) {
			st := st.(map[string]any)
			if want := map[bool]string{true: "succeeded", false: "failed"}[st["name"] == "say"]; st["status"] != want {
				t.Errorf("step %v: %v (%v), want %s", st["name"], st["status"], st["error"], want)
			}
			says := map[string]string{
				"echoed":             "400",
				"server_error":       "500",
				"refused_address":    "refusing to connect to 10.9.9.9",
				"connection_refused": "connection refused",
				"too_slow":           "timed out after 100ms",
				"bad_template":       "event.body.missing.deeper",
			}[st["name"].(string)]
			if msg, _ := st["error"].(string); !strings.Contains(msg, says) {
				t.Errorf("step %v failed with %q, want it to say %q", st["name"], msg, says)
			}
			if st["name"] == "server_error" && st["attempts"] != float64(2) {
				t.Errorf("server_error made %v attempts, want 2", st["attempts"])
			}
		}
		var seen strings.Builder
		for _, path := range []string{"/api/v1/runs/" + run["id"].(string), "/api/v1/runs", "/api/v1/dlq", "/metrics", "/api/v1/status",
			"/api/v1/workflows", "/api/v1/workflows/secret_path"} {
			resp, err := http.Get("http://" + s.adminAddr + path)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen.Write(data)
		}
		history := seen.String()
		if !strings.Contains(history, `"path":"/in/[redacted]"`) || !strings.Contains(history, `"filter":"event.body.key != '[redacted]'"`) {
			t.Errorf("the workflow list does not show the path and filter, redacted:\n%s", history)
		}
		for _, step := range []string{"echoed", "server_error", "refused_address", "connection_refused", "too_slow", "bad_template"} {
			if !strings.Contains(history, `"name":"`+step+`"`) {
				t.Errorf("step %s is not in the history", step)
			}
			// Each failure is in the metrics too, so their labels were looked at.
			if !strings.Contains(history, `hookflow_step_duration_seconds_count{kind="http",outcome="failed",step="`+step+`",workflow="leaky"} 1`) {
				t.Errorf("step %s's failure is not in the metrics", step)
			}
		}
		logs.mu.Lock()
		logText := buf.String()
		logs.mu.Unlock()
		if n := strings.Count(history, canarySecret); n != 0 {
			t.Errorf("the secret appears %d times in the run history:\n%s", n, history)
		}
		if n := strings.Count(logText, canarySecret); n != 0 {
			t.Errorf("the secret appears %d times in the log:\n%s", n, logText)
		}
		if !strings.Contains(history, "[redacted]") {
			t.Errorf("nothing was redacted; did the secret reach the history at all?\n%s", history)
		}
	})
}
