package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/engine"
)

const localRunSrc = `
vars {
  api = env("RUN_API_URL")
}

workflow "order" {
  trigger "webhook" {
    path = "/orders"
  }

  filter = "event.body.total > 10"

  step "http" "lookup" {
    url     = "${vars.api}/customers/{{ event.body.customer }}"
    headers = { Authorization = "Bearer ${secret("RUN_TOKEN")}" }
  }

  step "http" "update" {
    if     = "steps.lookup.body.id != nil"
    method          = "PATCH"
    url             = "${vars.api}/customers/{{ steps.lookup.body.id }}"
    json            = { total = "{{ event.body.total }}", note = "paid with key ${secret("RUN_TOKEN")}" }
    idempotency_key = "order-{{ event.body.customer }}"
  }
}

workflow "nightly" {
  trigger "schedule" {
    cron = "0 3 * * *"
  }

  step "delay" "settle" {
    duration = "2h"
  }

  step "http" "report" {
    method = "POST"
    url    = "${vars.api}/reports"
    json   = { schedule = "{{ event.body.schedule }}" }
  }
}
`

// localAPI records what reaches it and answers like a CRM.
type localAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string // "PATCH /customers/42 {json}"
	fail  bool
}

func newLocalAPI(t *testing.T) *localAPI {
	a := &localAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.calls = append(a.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
		fail := a.fail
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if fail && r.Method == "PATCH" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"error":"total must be a number"}`)
			return
		}
		io.WriteString(w, `{"id": 42, "name": "Ada"}`)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *localAPI) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func TestRunCommand(t *testing.T) {
	api := newLocalAPI(t)
	t.Setenv("RUN_API_URL", api.URL)
	t.Setenv("RUN_TOKEN", "tok-4f9a8e77c2")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "order.hcl"), localRunSrc)
	event := filepath.Join(dir, "event.json")
	writeFile(t, event, `{"customer": "c1", "total": 25}`)
	hookflow := func(stdin string, args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir}, args...), strings.NewReader(stdin), &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), "tok-4f9a8e77c2") {
			t.Errorf("the secret is printed:\n%s%s", stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String(), err
	}

	t.Run("real", func(t *testing.T) {
		out, errs, err := hookflow("", "--allow-net", "127.0.0.1/32", "--event", event, "order")
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		for _, want := range []string{"(webhook event)", "1. lookup (http) succeeded", `"name": "Ada"`, "2. update (http) succeeded", "run succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		want := []string{"GET /customers/c1", `PATCH /customers/42 {"note":"paid with key tok-4f9a8e77c2","total":25}`}
		if got := api.seen(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the API got %q, want %q", got, want)
		}
	})

	t.Run("dry run sends nothing", func(t *testing.T) {
		before := len(api.seen())
		out, errs, err := hookflow(`{"customer": "c 2", "total": 30}`, "--dry-run", "--event", "-", "order")
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		if n := len(api.seen()) - before; n != 0 {
			t.Errorf("a dry run sent %d requests", n)
		}
		for _, want := range []string{"→ GET " + api.URL + "/customers/c%202", "Authorization: [redacted]",
			"(dry run: not sent; answered 200 {})", "2. update (http) skipped", "run succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("dry run answers with --response, and hides secrets", func(t *testing.T) {
		answer := filepath.Join(dir, "lookup.json")
		writeFile(t, answer, `{"id": 7}`)
		for _, flag := range []string{"lookup=" + answer, `lookup={"id": 7}`} {
			out, errs, err := hookflow("", "--dry-run", "--response", flag, "--event", event, "order")
			if err != nil {
				t.Fatalf("%v\n%s%s", err, out, errs)
			}
			for _, want := range []string{`(dry run: not sent; answered 200 {"id": 7})`, "2. update (http) succeeded",
				"→ PATCH " + api.URL + "/customers/7", `{"note":"paid with key [redacted]","total":25}`} {
				if !strings.Contains(out, want) {
					t.Errorf("--response %s: output lacks %q:\n%s", flag, want, out)
				}
			}
		}
		if _, _, err := hookflow("", "--response", `lookup={"id": 7}`, "order"); err != errUsage {
			t.Errorf("--response without --dry-run: %v", err)
		}
		if _, _, err := hookflow("", "--dry-run", "--response", "lookup={nope", "order"); err != errUsage {
			t.Errorf("--response that is not JSON: %v", err)
		}
	})

	t.Run("filtered", func(t *testing.T) {
		before := len(api.seen())
		out, _, err := hookflow(`{"customer": "c1", "total": 5}`, "--allow-net", "127.0.0.1/32", "--event", "-", "order")
		if err != nil || !strings.Contains(out, "filtered: the filter of order is false") {
			t.Errorf("%v:\n%s", err, out)
		}
		if len(api.seen()) != before {
			t.Error("a filtered event ran")
		}
		out, _, err = hookflow(`{"customer": "c1", "total": 5}`, "--dry-run", "--no-filter", "--event", "-", "order")
		if err != nil || !strings.Contains(out, "run succeeded") {
			t.Errorf("--no-filter: %v:\n%s", err, out)
		}
	})

	t.Run("a failed run exits 1", func(t *testing.T) {
		api.mu.Lock()
		api.fail = true
		api.mu.Unlock()
		defer func() { api.mu.Lock(); api.fail = false; api.mu.Unlock() }()
		out, _, err := hookflow("", "--allow-net", "127.0.0.1/32", "--event", event, "order")
		if err != exitError(1) {
			t.Errorf("exit %v, want 1", err)
		}
		for _, want := range []string{"2. update (http) failed", "status 422", "run failed"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		out, _, err := hookflow("", "--allow-net", "127.0.0.1/32", "--json", "--event", event, "order")
		var r engine.Run
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if r.Status != "succeeded" || len(r.Steps) != 2 || r.Steps[1].Status != "succeeded" || r.Event.Trigger != "webhook" {
			t.Errorf("run %+v", r)
		}
	})

	t.Run("schedule, delays skipped in a dry run", func(t *testing.T) {
		out, _, err := hookflow("", "--dry-run", "nightly")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"(schedule event)", "1. settle (delay) succeeded", `"skipped": true`, `"seconds": 7200`,
			`{"schedule":"cron 0 3 * * * UTC"}`, "run succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		_, errs, err := hookflow("", "nope")
		if err != errUsage || !strings.Contains(errs, `no workflow "nope"`) || !strings.Contains(errs, "nightly, order") {
			t.Errorf("unknown workflow: %v %s", err, errs)
		}
		if _, errs, err = hookflow("{", "--event", "-", "order"); err != errUsage || !strings.Contains(errs, "malformed body") {
			t.Errorf("bad JSON: %v %s", err, errs)
		}
		if _, _, err = hookflow("", "--event", filepath.Join(dir, "missing.json"), "order"); err != errUsage {
			t.Errorf("missing file: %v", err)
		}
		if _, _, err = hookflow("", "--header", "no colon", "order"); err != errUsage {
			t.Errorf("bad header: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "broken.hcl"), []byte("workflow \"x\" {\n  nope = 1\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(dir, "broken.hcl"))
		if _, errs, err = hookflow("", "order"); err != exitError(1) || !strings.Contains(errs, "broken.hcl:2:") {
			t.Errorf("broken file: %v %s", err, errs)
		}
	})
}

func TestContentTypeOf(t *testing.T) {
	for name, want := range map[string]string{
		"a.json": "application/json", "slash.form": "application/x-www-form-urlencoded",
		"note.txt": "text/plain; charset=utf-8", "event": "application/json", "-": "application/json",
	} {
		if got := contentTypeOf(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// Every example runs under hookflow run --dry-run with its sample event and headers,
// sending nothing: what its README shows for trying it without a server.
func TestRunCommandOnExamples(t *testing.T) {
	setExampleEnv(t)
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dir := filepath.Join(examples, e.Name())
		set, _ := load(dir, kinds(nil, nil), io.Discard)
		if set == nil {
			t.Fatalf("%s does not load", dir)
		}
		for _, wf := range set.Workflows() {
			t.Run(e.Name()+"/"+wf.Name, func(t *testing.T) {
				args := []string{"run", "--dir", dir, "--dry-run", "--no-filter"}
				for _, name := range []string{"event.json", "event.form"} {
					if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
						args = append(args, "--event", filepath.Join(dir, name))
					}
				}
				if _, err := os.Stat(filepath.Join(dir, "event.headers")); err == nil {
					args = append(args, "--header", "@"+filepath.Join(dir, "event.headers"))
				}
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), append(args, wf.Name), nil, &stdout, &stderr)
				out := stdout.String()
				if !strings.Contains(out, "run of "+wf.Name) && !strings.Contains(out, " of "+wf.Name+" (") {
					t.Errorf("no run header:\n%s%s", out, stderr.String())
				}
				if err != nil && !strings.Contains(out, "steps that read earlier answers may fail") {
					t.Errorf("%v:\n%s%s", err, out, stderr.String())
				}
				for name, v := range exampleEnv {
					if name != "QUICKSTART_HOOKS_URL" && strings.Contains(out+stderr.String(), v) {
						t.Errorf("the secret %s is printed:\n%s", name, out)
					}
				}
			})
		}
	}
}
