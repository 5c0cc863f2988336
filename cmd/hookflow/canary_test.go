package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
    url = "${vars.api}/x/${vars.token}?n={{ int(event.body.missing.deeper) }}"
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
				"bad_template":       "int(event.body.missing.deeper)",
			}[st["name"].(string)]
			if msg, _ := st["error"].(string); !strings.Contains(msg, says) {
				t.Errorf("step %v failed with %q, want it to say %q", st["name"], msg, says)
			}
			if st["name"] == "server_error" && st["attempts"] != float64(2) {
				t.Errorf("server_error made %v attempts, want 2", st["attempts"])
			}
		}
		// A step is counted in the metrics once its outcome is stored: the run may show
		// it a moment before.
		var counted []string
		for _, step := range []string{"echoed", "server_error", "refused_address", "connection_refused", "too_slow", "bad_template"} {
			counted = append(counted, `hookflow_step_duration_seconds_count{kind="http",outcome="failed",step="`+step+`",workflow="leaky"} 1`)
		}
		hasLines(t, func() string {
			resp, err := http.Get("http://" + s.adminAddr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			return string(data)
		}, counted...)
		var seen strings.Builder
		for _, path := range []string{"/api/v1/runs/" + run["id"].(string), "/api/v1/runs", "/api/v1/dlq", "/metrics", "/api/v1/status",
			"/api/v1/workflows", "/api/v1/workflows/secret_path",
			// The run inspector's pages.
			"/", "/runs/" + run["id"].(string), "/dlq", "/workflows"} {
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

// requestCanary is a secret that each encoding a request gives it changes: percent-
// encoding in a path, a query or a form, JSON escaping, base64 in basic auth.
const requestCanary = `Cn4ry/s3cr&t"<x>+=?`

const requestsSrc = `
vars {
  api   = env("CANARY_API")
  token = secret("CANARY_TOKEN")
}

workflow "requests" {
  trigger "webhook" {
    path = "/requests"
  }

  step "http" "order" {
    method     = "PUT"
    url        = "${vars.api}/orders/{{ vars.token }}/lines"
    query      = { key = vars.token, page = "2" }
    headers    = { X-Trace = "trace-1", X-Copy = "copy ${vars.token}" }
    basic_auth = { username = "svc", password = vars.token }
    json       = { token = vars.token, note = "hello" }
  }

  step "http" "form" {
    url  = "${vars.api}/forms"
    form = { token = vars.token, note = "hello" }
  }

  step "http" "big" {
    url  = "${vars.api}/big"
    body = "{{ event.body.big }}"
  }

  step "http" "mistyped" {
    url      = "${vars.api}/hooks/{{ vars.token }}/tikets"
    on_error = "continue"
  }
}
`

// TestRequestsInTheHistoryHideSecrets: the run history shows what each http step
// sent and got back, with a secret in the query, the path, a JSON body, a form body
// and basic auth, and answers that repeat all of it, hidden from every Redis key and
// value, the AOF on disk, the log, the metrics, the admin API and runs show, in every
// encoding the request gave it.
func TestRequestsInTheHistoryHideSecrets(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) { requestsHideSecrets(t, b, false) })
	// And on disk: a Redis appending every write to its AOF keeps no form of it either.
	t.Run("redis-server-aof", func(t *testing.T) { requestsHideSecrets(t, redistest.Durable(t), true) })
}

func requestsHideSecrets(t *testing.T, b *redistest.Backend, aof bool) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// An API that repeats what it got as JSON: the URL as sent, the headers and
		// the body.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		if strings.Contains(r.URL.Path, "/tikets") {
			w.WriteHeader(http.StatusNotFound)
		}
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI, "headers": r.Header, "body": string(body)})
	}))
	defer api.Close()
	t.Setenv("CANARY_API", api.URL)
	t.Setenv("CANARY_TOKEN", requestCanary)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "requests.hcl"), requestsSrc)
	var logs syncWriter
	var logBuf bytes.Buffer
	logs.w = &logBuf
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: b.URL,
		workers: 4, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()

	big := strings.Repeat("b", 70<<10)
	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/requests", `{"big": "`+big+`"}`)
	if status != http.StatusAccepted {
		t.Fatalf("answered %d %v", status, answer)
	}
	statusURL := answer["status_url"].(string)
	run := waitRun(t, statusURL)
	if run["status"] != "succeeded" {
		t.Fatalf("run %v: %v", run["status"], run["error"])
	}

	// The history: the status URL, the admin API's run, runs show, its --json.
	var seen strings.Builder
	for _, u := range []string{statusURL, "http://" + s.adminAddr + "/api/v1/runs/" + run["id"].(string), "http://" + s.adminAddr + "/api/v1/runs"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen.Write(data)
	}
	var shown, shownJSON bytes.Buffer
	if err := run_(t, &shown, "runs", "show", run["id"].(string), "--admin", s.adminAddr); err != nil {
		t.Fatal(err)
	}
	if err := run_(t, &shownJSON, "runs", "show", "--json", run["id"].(string), "--admin", s.adminAddr); err != nil {
		t.Fatal(err)
	}
	history := seen.String() + shownJSON.String()

	var steps struct {
		Steps []struct {
			Name     string `json:"name"`
			Error    string `json:"error"`
			Requests []struct {
				Method   string            `json:"method"`
				URL      string            `json:"url"`
				Headers  map[string]string `json:"headers"`
				Body     string            `json:"body"`
				Status   int               `json:"status"`
				Response struct {
					Body string `json:"body"`
				} `json:"response"`
			} `json:"requests"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(shownJSON.Bytes(), &steps); err != nil || len(steps.Steps) != 4 {
		t.Fatalf("runs show --json: %v\n%s", err, shownJSON.String())
	}
	for _, st := range steps.Steps {
		if len(st.Requests) != 1 {
			t.Errorf("step %s recorded %d requests, want 1", st.Name, len(st.Requests))
			continue
		}
		q := st.Requests[0]
		switch st.Name {
		case "order":
			if q.Method != "PUT" || !strings.HasPrefix(q.URL, api.URL+"/orders/[redacted]/lines?") || !strings.Contains(q.URL, "page=2") ||
				q.Headers["X-Trace"] != "trace-1" || q.Headers["X-Copy"] != "copy [redacted]" || q.Headers["Authorization"] != "Basic [redacted]" ||
				q.Body != `{"note":"hello","token":"[redacted]"}` || q.Status != 200 || !strings.Contains(q.Response.Body, `"X-Trace":["trace-1"]`) {
				t.Errorf("order's request: %+v", q)
			}
		case "form":
			if q.Method != "POST" || q.URL != api.URL+"/forms" || q.Body != "note=hello&token=[redacted]" ||
				q.Headers["Content-Type"] != "application/x-www-form-urlencoded" {
				t.Errorf("form's request: %+v", q)
			}
		case "big":
			marker := fmt.Sprintf("[cut: the body is %d bytes; the first %d are kept]", len(big), 64<<10)
			if !strings.HasSuffix(q.Body, marker) || len(q.Body) > 65<<10 || !strings.Contains(q.Response.Body, "[cut: ") {
				t.Errorf("big's bodies are not cut at 64 KiB with the marker: request ends %q, answer %d bytes",
					q.Body[max(0, len(q.Body)-80):], len(q.Response.Body))
			}
		case "mistyped":
			if q.Status != 404 || q.URL != api.URL+"/hooks/[redacted]/tikets" ||
				!strings.Contains(st.Error, "GET "+api.URL+"/hooks/[redacted]/tikets: status 404") {
				t.Errorf("the mistyped path is not in the error or the history: %q %+v", st.Error, q)
			}
		}
	}
	for _, want := range []string{"→ PUT " + api.URL + "/orders/[redacted]/lines?", "X-Trace: trace-1", "Authorization: Basic [redacted]",
		`{"note":"hello","token":"[redacted]"}`, "← 200 OK in ", "note=hello&token=[redacted]", "← 404 Not Found in ", "/hooks/[redacted]/tikets"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("runs show lacks %q:\n%s", want, shown.String())
		}
	}

	// Every key and value in Redis.
	dump := redisDump(t, b)
	if !strings.Contains(dump, `"X-Trace":"trace-1"`) {
		t.Errorf("the requests are not in Redis; is the dump empty?")
	}

	logs.mu.Lock()
	logText := logBuf.String()
	logs.mu.Unlock()
	quoted, _ := json.Marshal(requestCanary)
	forms := []string{"Cn4ry", url.QueryEscape(requestCanary), url.PathEscape(requestCanary), string(quoted[1 : len(quoted)-1]),
		base64.StdEncoding.EncodeToString([]byte("svc:" + requestCanary))}
	sinks := map[string]string{"the history": history, "runs show": shown.String(), "Redis": dump, "the log": logText}
	resp, err := http.Get("http://" + s.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sinks["the metrics"] = string(metrics)
	if aof { // every write is on disk already: appendfsync always
		var disk strings.Builder
		filepath.WalkDir(b.Dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(path)
				disk.Write(data)
			}
			return nil
		})
		if !strings.Contains(disk.String(), "trace-1") {
			t.Errorf("the AOF does not hold the run's requests; is it read?")
		}
		sinks["the AOF"] = disk.String()
	}
	for where, text := range sinks {
		for _, form := range forms {
			if strings.Contains(text, form) {
				t.Errorf("%s holds the secret as %q", where, form)
			}
		}
	}
}

// run_ runs hookflow's command line with args, its output into w.
func run_(t *testing.T, w io.Writer, args ...string) error {
	t.Helper()
	var stderr bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(""), w, &stderr); err != nil {
		return fmt.Errorf("%v: %v %s", args, err, stderr.String())
	}
	return nil
}

// redisDump is every key in b's Redis and its value, as text.
func redisDump(t *testing.T, b *redistest.Backend) string {
	t.Helper()
	var dump strings.Builder
	ctx := context.Background()
	iter := b.Client.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		dump.WriteString(key + "\n")
		switch typ := b.Client.Type(ctx, key).Val(); typ {
		case "string":
			dump.WriteString(b.Client.Get(ctx, key).Val())
		case "hash":
			for k, v := range b.Client.HGetAll(ctx, key).Val() {
				dump.WriteString(k + "=" + v + "\n")
			}
		case "list":
			dump.WriteString(strings.Join(b.Client.LRange(ctx, key, 0, -1).Val(), "\n"))
		case "set":
			dump.WriteString(strings.Join(b.Client.SMembers(ctx, key).Val(), "\n"))
		case "zset":
			dump.WriteString(strings.Join(b.Client.ZRange(ctx, key, 0, -1).Val(), "\n"))
		default:
			t.Errorf("key %s is a %s, which this test does not read", key, typ)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return dump.String()
}
