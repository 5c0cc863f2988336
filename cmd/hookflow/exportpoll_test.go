package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// A run a poll started, in a workflow whose first trigger is a webhook, exported with
// runs export-test, is a poll's run again under hookflow test: its event says trigger =
// "poll", so the test's event has no method, and the filter reads the trigger the served
// run's did; it says event.poll's page and time, which the test's event has.
func TestRunsExportTestOfAPoll(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/orders" {
			fmt.Fprint(w, `{"orders": [{"id": "o1"}]}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.hcl"), `workflow "orders" {
  trigger "webhook" {
    path = "/orders"
  }
  trigger "poll" {
    every    = "1s"
    url      = "`+api.URL+`/orders"
    items    = "response.body.orders"
    key      = "item.id"
    backfill = true
  }
  filter = "event.trigger == 'poll'"

  step "http" "echo" {
    url  = "`+api.URL+`/echo"
    json = { trig = "{{ event.trigger }}", method = "{{ event.method }}", id = "{{ event.body.id }}", page = "{{ event.poll.page }}", at = "{{ event.poll.time }}" }
  }
}
`)
	s := serveDir(t, dir, redistest.Real(t).URL, "127.0.0.1:0")
	runID := waitOneRun(t, s, "succeeded")

	file := filepath.Join(dir, "orders.test.hcl")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"runs", "export-test", runID, "--name", "a polled order", "-o", file,
		"--admin", s.adminAddr}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("export-test: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`trigger = "poll"`, `trig   = "poll"`, `method = ""`, `page = 1`, "poll = {"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the exported test lacks %q:\n%s", want, data)
		}
	}
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "ok    a polled order") {
		t.Fatalf("the exported test fails, exit %d:\n%s\n%s", code, out, data)
	}
}

// A test's event of a poll's item has event.poll: the page and time it gives, else
// page 1 at the test's time.
func TestWorkflowTestsEventPoll(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "orders" {
  trigger "poll" {
    every = "1h"
    url   = "https://shop.example.com/orders"
    items = "response.body.orders"
    key   = "item.id"
  }
  step "set" "seen" {
    page  = "{{ event.poll.page }}"
    later = "{{ event.poll.page > 1 }}"
    at    = "{{ event.poll.time }}"
  }
}
`, "w.test.hcl": `test "page 2" {
  workflow = "orders"
  event {
    trigger = "poll"
    body    = { id = "o1" }
    poll    = { page = 2, time = "2026-03-02T09:00:00Z" }
  }
  expect "seen" {
    output = { page = 2, later = true, at = "2026-03-02T09:00:00Z" }
  }
}

test "the first page" {
  workflow = "orders"
  event {
    body = { id = "o1" }
  }
  expect "seen" {
    output = { page = 1, later = false }
  }
}
`})
	if out, code := hookflowTest(t, dir); code != 0 || !strings.Contains(out, "PASS: 2 tests") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
