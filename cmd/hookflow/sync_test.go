package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const syncSrc = `
vars {
  api = env("E2E_API_URL")
}

# Answers with its respond step, then goes on: the caller does not wait for "after".
workflow "lookup" {
  trigger "webhook" {
    path     = "/lookup"
    response = "sync"
  }

  step "http" "find" {
    method = "POST"
    url    = "${vars.api}/customers"
    json   = { email = "{{ event.body.email }}" }
  }

  step "respond" "answer" {
    status  = 201
    headers = { X-Customer = "{{ steps.find.body.id }}" }
    json    = { customer = "{{ steps.find.body.id }}", email = "{{ event.body.email }}" }
  }

  step "delay" "later" {
    duration = "1h"
  }

  step "log" "after" {
    message = "an hour later"
  }
}

# Has no respond step: answers with its last step's output. A repeated delivery gets
# the first one's answer.
workflow "last" {
  trigger "webhook" {
    path     = "/last"
    response = "sync"
    dedupe   = "{{ event.body.delivery }}"
  }

  step "set" "result" {
    doubled = "{{ event.body.n * 2 }}"
  }
}

# Answers text with the body attribute. Its answer keeps X-Content-Type-Options:
# nosniff, which hookflow sends with every answer.
workflow "text" {
  trigger "webhook" {
    path     = "/text"
    response = "sync"
  }

  step "respond" "answer" {
    headers = { X-Content-Type-Options = "none" }
    body    = "hello {{ event.body.name }}"
  }
}

# Fails before it can answer.
workflow "broken" {
  trigger "webhook" {
    path     = "/broken"
    response = "sync"
  }

  step "http" "fail" {
    url = "http://127.0.0.1:1/refused"
  }

  step "respond" "answer" {
    json = { ok = true }
  }
}

# Answers with the body it got, a level deeper than the body nests: a body as deep
# as a webhook takes is answered, not read back as too deep.
workflow "echo" {
  trigger "webhook" {
    path     = "/echo"
    response = "sync"
  }

  step "respond" "answer" {
    json = { got = "{{ event.body }}" }
  }
}

# Takes longer than its caller waits: the caller gets the 202 answer.
workflow "slow" {
  trigger "webhook" {
    path             = "/slow"
    response         = "sync"
    response_timeout = "200ms"
  }

  step "delay" "wait" {
    duration = "1h"
  }

  step "respond" "answer" {
    json = { ok = true }
  }
}
`

type syncAnswer struct {
	status int
	header http.Header
	body   string
}

func postSync(t *testing.T, url, body string) syncAnswer {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return syncAnswer{resp.StatusCode, resp.Header, string(data)}
}

// A sync webhook answers with its run: its respond step's answer, or its last step's
// output; 500 when the run failed first, 202 when it takes too long. Every answer says
// X-Content-Type-Options: nosniff, whatever the respond step's headers say.
func TestSyncWebhooks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api, _ := fakeCRM(t)
		t.Setenv("E2E_API_URL", api.URL)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sync.hcl"), []byte(syncSrc), 0o644); err != nil {
			t.Fatal(err)
		}
		s := serveDir(t, dir, b.URL, "127.0.0.1:0")
		hooks := "http://" + s.publicAddr + "/hooks"

		t.Run("respond step", func(t *testing.T) {
			a := postSync(t, hooks+"/lookup", `{"email": "ada@example.com"}`)
			if a.status != 201 || a.header.Get("X-Customer") != "cus_42" || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %v %s", a.status, a.header, a.body)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(a.body), &body); err != nil || body["customer"] != "cus_42" || body["email"] != "ada@example.com" {
				t.Errorf("body %s (%v)", a.body, err)
			}
			// The run goes on after it answered.
			run := getJSON(t, "http://"+s.adminAddr+"/api/v1/runs/"+a.header.Get("Hookflow-Run-Id"))
			if run["status"] != "running" {
				t.Errorf("run is %v after answering, want running (waiting in its delay)", run["status"])
			}
		})

		t.Run("last step", func(t *testing.T) {
			a := postSync(t, hooks+"/last", `{"n": 21, "delivery": "d1"}`)
			if a.status != 200 || strings.TrimSpace(a.body) != `{"doubled":42}` {
				t.Errorf("got %d %s", a.status, a.body)
			}
			again := postSync(t, hooks+"/last", `{"n": 50, "delivery": "d1"}`)
			if again.status != 200 || again.body != a.body || again.header.Get("Hookflow-Run-Id") != a.header.Get("Hookflow-Run-Id") {
				t.Errorf("repeated delivery: got %d %s from run %s", again.status, again.body, again.header.Get("Hookflow-Run-Id"))
			}
		})

		t.Run("text", func(t *testing.T) {
			a := postSync(t, hooks+"/text", `{"name": "Ada"}`)
			if a.status != 200 || a.body != "hello Ada" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
				t.Errorf("got %d %v %q", a.status, a.header, a.body)
			}
		})

		t.Run("deep body", func(t *testing.T) {
			body := strings.Repeat(`{"a":`, 63) + "1" + strings.Repeat("}", 63)
			a := postSync(t, hooks+"/echo", body)
			if want := `{"got":` + body + "}"; a.status != 200 || strings.TrimSpace(a.body) != want {
				t.Errorf("got %d %.200s", a.status, a.body)
			}
		})

		t.Run("failed run", func(t *testing.T) {
			a := postSync(t, hooks+"/broken", `{}`)
			if a.status != 500 || !strings.Contains(a.body, `"status":"failed"`) || !strings.Contains(a.body, "status_url") {
				t.Errorf("got %d %s", a.status, a.body)
			}
			if strings.Contains(a.body, "refused") {
				t.Errorf("the answer shows the step's error: %s", a.body)
			}
		})

		t.Run("timeout", func(t *testing.T) {
			a := postSync(t, hooks+"/slow", `{}`)
			if a.status != 202 || !strings.Contains(a.body, "run_id") || !strings.Contains(a.body, "status_url") {
				t.Errorf("got %d %s", a.status, a.body)
			}
		})

		t.Run("nosniff", func(t *testing.T) {
			for _, c := range []struct{ path, body string }{{"/lookup", `{"email": "ada@example.com"}`},
				{"/last", `{"n": 1, "delivery": "d2"}`}, {"/text", `{"name": "Ada"}`}, {"/broken", `{}`}, {"/slow", `{}`}} {
				if a := postSync(t, hooks+c.path, c.body); a.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s answered %d with X-Content-Type-Options %q, want nosniff", c.path, a.status, a.header.Get("X-Content-Type-Options"))
				}
			}
		})
	})
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return out
}
