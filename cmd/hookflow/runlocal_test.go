package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
    query   = { key = secret("RUN_TOKEN") }
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
	// A token with characters that encoding changes: the output must hide it however it
	// is written on the wire.
	const token = `tok+4f/9a=8e&7<c2 "x"`
	t.Setenv("RUN_TOKEN", token)
	quoted, _ := json.Marshal(token)  // <, > and & escaped
	sent := `tok+4f/9a=8e&7<c2 \"x\"` // as an http step sends it in JSON
	forms := []string{token, url.QueryEscape(token), url.PathEscape(token), string(quoted[1 : len(quoted)-1]), sent}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "order.hcl"), localRunSrc)
	event := filepath.Join(dir, "event.json")
	writeFile(t, event, `{"customer": "c1", "total": 25}`)
	hookflow := func(stdin string, args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"run", "--dir", dir}, args...), strings.NewReader(stdin), &stdout, &stderr)
		for _, f := range forms {
			if strings.Contains(stdout.String()+stderr.String(), f) {
				t.Errorf("the secret is printed, as %s:\n%s%s", f, stdout.String(), stderr.String())
			}
		}
		return stdout.String(), stderr.String(), err
	}

	t.Run("real", func(t *testing.T) {
		out, errs, err := hookflow("", "--allow-net", "127.0.0.1/32", "--event", event, "order")
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		for _, want := range []string{"(webhook event)", "1. lookup (http) succeeded", "→ GET " + api.URL + "/customers/c1", "← 200 OK in ",
			`"name": "Ada"`, "2. update (http) succeeded", `{"note":"paid with key [redacted]","total":25}`, "run succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		want := []string{"GET /customers/c1", `PATCH /customers/42 {"note":"paid with key ` + sent + `","total":25}`}
		if got := api.seen(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the API got %q, want %q", got, want)
		}
	})

	t.Run("dry run sends nothing", func(t *testing.T) {
		before := len(api.seen())
		out, errs, err := hookflow(`{"customer": "c 2", "total": 30}`, "--dry-run", "--allow-net", "127.0.0.1/32", "--event", "-", "order")
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		if n := len(api.seen()) - before; n != 0 {
			t.Errorf("a dry run sent %d requests", n)
		}
		for _, want := range []string{"→ GET " + api.URL + "/customers/c%202", "Authorization: Bearer [redacted]",
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
			out, errs, err := hookflow("", "--dry-run", "--allow-net", "127.0.0.1", "--response", flag, "--event", event, "order")
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
		// A typo would answer nothing, and the path meant would not be taken.
		if _, errs, err := hookflow("", "--dry-run", "--response", "lokup=404", "order"); err != errUsage ||
			!strings.Contains(errs, `--response lokup: workflow order has no step "lokup"; its http and workflow steps are: lookup`) {
			t.Errorf("--response of a step that does not exist: %v\n%s", err, errs)
		}
	})

	t.Run("dry run refuses what a real run would, and shows it", func(t *testing.T) {
		out, _, err := hookflow("", "--dry-run", "--event", event, "order")
		if err != exitError(1) {
			t.Errorf("a dry run to loopback without --allow-net: %v\n%s", err, out)
		}
		for _, want := range []string{"1. lookup (http) failed", "→ GET " + api.URL + "/customers/c1?key=[redacted]", "Authorization: Bearer [redacted]",
			"(dry run: not sent; refused, as a real run would be: refusing to connect to 127.0.0.1: loopback address",
			"error: GET " + api.URL + "/customers/c1?key=[redacted]: refusing to connect"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "answered 200") || strings.Contains(out, "each http step gets an empty answer") {
			t.Errorf("a refused request is said to be answered:\n%s", out)
		}
	})

	t.Run("dry run refuses a host as a real run dials it", func(t *testing.T) {
		// Ideographic full stops: net/http dials the host as IDNA maps it, 127.0.0.1.
		t.Setenv("RUN_API_URL", strings.Replace(api.URL, "127.0.0.1", "127。0。0。1", 1))
		out, _, err := hookflow("", "--dry-run", "--event", event, "order")
		if err != exitError(1) || !strings.Contains(out, "(dry run: not sent; refused, as a real run would be: refusing to connect to 127.0.0.1: loopback address") {
			t.Errorf("a dry run to loopback written with ideographic dots, without --allow-net: %v\n%s", err, out)
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
		out, _, err = hookflow(`{"customer": "c1", "total": 5}`, "--dry-run", "--allow-net", "127.0.0.1/32", "--no-filter", "--event", "-", "order")
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
		out, _, err := hookflow("", "--dry-run", "--allow-net", "127.0.0.1/32", "nightly")
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

	// An --event that gives no event, as an editor saves {} (with its line break) or
	// null, is the schedule's latest tick, as a manual start through the API makes it.
	t.Run("schedule, an --event of {} or null", func(t *testing.T) {
		for _, given := range []string{"{}\n", " null\r\n"} {
			out, _, err := hookflow(given, "--dry-run", "--allow-net", "127.0.0.1/32", "--event", "-", "nightly")
			if err != nil || !strings.Contains(out, `{"schedule":"cron 0 3 * * * UTC"}`) {
				t.Errorf("%q: %v, not the latest tick:\n%s", given, err, out)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		_, errs, err := hookflow("", "nope")
		if err != errUsage || !strings.Contains(errs, `no workflow "nope"`) || !strings.Contains(errs, "nightly, order") {
			t.Errorf("unknown workflow: %v %s", err, errs)
		}
		if _, errs, err = hookflow("", "ordr"); err != errUsage || !strings.Contains(errs, `no workflow "ordr" in `) ||
			!strings.Contains(errs, `; did you mean "order"?`) {
			t.Errorf("misspelled workflow: %v %s", err, errs)
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

// TestRunCommandOnExamples runs each example's documented dry run, the command its
// README gives under "Without a server" (the quick start's is in the top README), and
// the Stripe example's of docs/getting-started.md, word for word, and checks that the
// run succeeds, prints no secret, and sends no Slack link without its URL (<|name>,
// what a step answered {} where its answer gives the link leaves).
func TestRunCommandOnExamples(t *testing.T) {
	setExampleEnv(t)
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		docs[e.Name()] = filepath.Join(examples, e.Name(), "README.md")
	}
	docs["quickstart"] = "../../README.md"
	docs["getting-started"] = "../../docs/getting-started.md"
	for name, readme := range docs {
		t.Run(name, func(t *testing.T) {
			dir := "examples/" + name
			if name == "getting-started" {
				dir = "examples/stripe-payment"
			}
			args := documentedRun(t, readme, dir)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, nil, &stdout, &stderr)
			out := stdout.String()
			if err != nil || !strings.Contains(out, "run succeeded") {
				t.Errorf("%q: %v:\n%s%s", args, err, out, stderr.String())
			}
			for name, v := range exampleEnv {
				if name != "QUICKSTART_HOOKS_URL" && strings.Contains(out+stderr.String(), v) {
					t.Errorf("the secret %s is printed:\n%s", name, out)
				}
			}
			if strings.Contains(out, "<|") {
				t.Errorf("a message links to no URL (<|…>): give the step that answers the link a --response:\n%s", out)
			}
		})
	}
}

// documentedRun finds, in a README, the go run ./cmd/hookflow run --dir DIR command and
// returns its arguments as the shell would pass them, with paths made relative to here.
func documentedRun(t *testing.T, readme, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	prefix := "go run ./cmd/hookflow run --dir " + dir + " "
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("%s has no %q command", readme, prefix)
	}
	line := text[i+len("go run ./cmd/hookflow "):]
	line = line[:strings.IndexByte(line, '\n')]
	var args []string
	var word strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			word.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ':
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, word.String())
	}
	for i, a := range args { // the README runs from the repository's root
		if strings.HasPrefix(a, "examples/") || strings.HasPrefix(a, "@examples/") {
			args[i] = strings.Replace(a, "examples/", "../../examples/", 1)
		}
	}
	return args
}

// run says on standard error when a step failed and waits to be tried again; its
// output shows the step as runs show does: each attempt's request, then how it ended.
func TestRunCommandShowsRetries(t *testing.T) {
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flaky.hcl"), `
workflow "flaky" {
  step "http" "call" {
    url = "`+api.URL+`/x"
    retry {
      attempts = 2
      backoff  = "constant" # a jittered wait may be too short to be seen
      initial  = "300ms"
    }
  }
}
`)
	out, errs, err := runArgs("run", "--dir", dir, "--allow-net", "127.0.0.1/32", "flaky")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"call (http): attempt 1 failed: GET http://127.0.0.1:", "status 503", "; next attempt in"} {
		if !strings.Contains(errs, want) {
			t.Errorf("standard error lacks %q:\n%s", want, errs)
		}
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "  1. call (http) succeeded") || !strings.Contains(lines[1], "after 2 attempts") ||
		!strings.Contains(out, "     → attempt 1: GET "+api.URL+"/x\n") || !strings.Contains(out, "     → attempt 2: GET "+api.URL+"/x\n") ||
		strings.Contains(out, "failed") {
		t.Errorf("output, want the step then its two attempts, as runs show prints them:\n%s", out)
	}
	if _, _, err := runArgs("run", "--dir", dir, "--timeout", "0s", "flaky"); err != errUsage {
		t.Errorf("--timeout 0: %v", err)
	}
}

// run says so too when an item of a for_each step, or a step of a parallel block,
// waits to be tried again, naming it as runs show does, once per failed attempt.
func TestRunCommandShowsRetriesOfItemsAndBlocks(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		if n == 1 && (r.URL.Path == "/item/2" || r.URL.Path == "/crm") {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flaky.hcl"), `
workflow "flaky" {
  step "http" "each" {
    for_each = "[1, 2, 3]"
    url      = "`+api.URL+`/item/{{ each.value }}"
    retry {
      attempts = 3
      backoff  = "constant" # a jittered wait may be too short to be seen
      initial  = "500ms"
    }
  }
  parallel "notify" {
    step "http" "slack" {
      url = "`+api.URL+`/slack"
    }
    step "http" "crm" {
      url = "`+api.URL+`/crm"
      retry {
        attempts = 3
        backoff  = "constant"
        initial  = "500ms"
      }
    }
  }
}
`)
	out, errs, err := runArgs("run", "--dir", dir, "--allow-net", "127.0.0.1/32", "flaky")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errs)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	want := []string{
		"each[1] (http): attempt 1 failed: GET " + api.URL + "/item/2: status 503 Service Unavailable, expected 2xx; next attempt in ",
		"notify/crm (http): attempt 1 failed: GET " + api.URL + "/crm: status 503 Service Unavailable, expected 2xx; next attempt in ",
	}
	if len(lines) != len(want) {
		t.Fatalf("standard error, want a line for the item and one for the step of the block:\n%s", errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q…", i+1, lines[i], w)
		}
	}
	if !strings.Contains(out, "     each[1] succeeded") || !strings.Contains(out, "notify/crm (http) succeeded") {
		t.Errorf("output:\n%s", out)
	}
}

// A dry run answers a step with the status --response gives, so that the paths a
// failure takes can be tried: on_error, retries, steps reading the status.
func TestRunDryRunFailurePaths(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sync.hcl"), `
workflow "sync" {
  step "http" "find" {
    url      = "https://crm.example.com/customers/{{ event.body.customer }}"
    on_error = "continue"
    retry {
      attempts = 2
      backoff  = "constant"
      initial  = "10ms"
    }
  }

  step "http" "create" {
    if   = "steps.find.status == 404"
    url  = "https://crm.example.com/customers"
    json = { id = "{{ event.body.customer }}", note = "<new & unseen>" }
  }

  step "http" "update" {
    if     = "steps.find.outcome == 'succeeded'"
    method = "PATCH"
    url    = "https://crm.example.com/customers/{{ steps.find.body.id }}"
    json   = { seen = true }
  }
}
`)
	notFound := filepath.Join(dir, "not-found.json")
	writeFile(t, notFound, `{"error": "no such customer"}`)
	event := filepath.Join(dir, "event.json")
	writeFile(t, event, `{"customer": "c1"}`)
	dryRun := func(args ...string) string {
		t.Helper()
		out, errs, err := runArgs(append([]string{"run", "--dir", dir, "--event", event, "--dry-run"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		return out
	}
	contains := func(out string, wants ...string) {
		t.Helper()
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}

	t.Run("404 from a file", func(t *testing.T) {
		out := dryRun("--response", "find=404:"+notFound, "sync")
		contains(out, `(dry run: not sent; answered 404 {"error": "no such customer"})`,
			"1. find (http) failed", "error: GET https://crm.example.com/customers/c1: status 404 Not Found",
			"2. create (http) succeeded", "→ POST https://crm.example.com/customers",
			`{"id":"c1","note":"<new & unseen>"}`, "3. update (http) skipped", "run succeeded")
		if strings.Contains(out, "after 2 attempts") || !strings.Contains(out, "     → GET https://crm.example.com/customers/c1\n") {
			t.Errorf("a 404 was retried, or its one request is numbered:\n%s", out)
		}
	})
	t.Run("status alone, then inline JSON, retried", func(t *testing.T) {
		out := dryRun("--response", "find=503:", "--response", `find={"id": 7}`, "sync")
		contains(out, "(dry run: not sent; answered 503 no body)",
			`(dry run: not sent; answered 200 {"id": 7})`, "1. find (http) succeeded", "after 2 attempts",
			"2. create (http) skipped", "3. update (http) succeeded", "→ PATCH https://crm.example.com/customers/7")
		// As runs show prints a step: its line, then each attempt's request, numbered.
		step := out[strings.Index(out, "\n")+1:]
		if want := "  1. find (http) succeeded"; !strings.HasPrefix(step, want) {
			t.Errorf("the step's line does not come first, %q:\n%s", want, out)
		}
		first := strings.Index(out, "     → attempt 1: GET https://crm.example.com/customers/c1\n")
		second := strings.Index(out, "     → attempt 2: GET https://crm.example.com/customers/c1\n")
		if first < 0 || second < first || strings.Contains(out, "attempt 1 failed") {
			t.Errorf("the attempts are not numbered as runs show numbers them:\n%s", out)
		}
	})
	t.Run("--json prints <, > and & as they are", func(t *testing.T) {
		out := dryRun("--json", "--response", `find=404:{"error": "<no & such>"}`, "sync")
		contains(out, `"error": "<no & such>"`, `"status": 404`, `"status": "succeeded"`)
	})
	t.Run("a failure that ends the run", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "sync.hcl"), "workflow \"sync\" {\n  step \"http\" \"find\" {\n    url = \"https://crm.example.com/x\"\n  }\n}\n")
		out, _, err := runArgs("run", "--dir", dir, "--dry-run", "--response", "find=500:"+notFound, "sync")
		if err != exitError(1) || !strings.Contains(out, "run failed") || strings.Contains(out, "each http step gets an empty answer") {
			t.Errorf("%v:\n%s", err, out)
		}
	})
	for _, bad := range []string{"find=600", "find=404:{nope", "find=404:" + filepath.Join(dir, "missing.json"), "=404"} {
		if _, _, err := runArgs("run", "--dir", dir, "--dry-run", "--response", bad, "sync"); err != errUsage {
			t.Errorf("--response %s: %v", bad, err)
		}
	}
}

func runArgs(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, nil, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// A dry run shows a sensitive step's output and answer as [sensitive], and its values
// as [redacted] in the requests of the steps after it, which still get them.
func TestRunDryRunHidesSensitiveOutputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "login.hcl"), `
workflow "login" {
  step "http" "token" {
    method    = "POST"
    url       = "https://auth.example.com/token"
    sensitive = true
  }
  step "http" "call" {
    url     = "https://api.example.com/things"
    json    = { token = "{{ steps.token.body.access_token }}", size = "{{ len(steps.token.body.access_token) }}" }
  }
}
`)
	const token = "tok-dry-8c1e55"
	for _, args := range [][]string{nil, {"--json"}} {
		out, errs, err := runArgs(append(append([]string{"run", "--dir", dir, "--dry-run"}, args...),
			"--response", `token={"access_token": "`+token+`"}`, "login")...)
		if err != nil {
			t.Fatalf("%v\n%s%s", err, out, errs)
		}
		if strings.Contains(out, token) || strings.Contains(errs, token) {
			t.Errorf("%v: the sensitive value is shown:\n%s%s", args, out, errs)
		}
		for _, want := range []string{"[sensitive]", `"token":"[redacted]"`, `"size":14`} {
			if args == nil && !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if args != nil && !strings.Contains(out, `"output": "[sensitive]"`) {
			t.Errorf("--json lacks the hidden output:\n%s", out)
		}
	}
}

// --response answers a step of a child run by the name tests give it, STEP/CHILD_STEP,
// or by its own name when no other step has it, refuses a name that is no step's, and
// the dry run prints the requests of the child run's steps below its workflow step.
func TestRunResponseOfAChildStep(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	writeFile(t, event, `{"id": "o1"}`)
	for _, name := range []string{"invoice/create", "create"} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--event", event,
				"--response", name+`={"number": "INV-1"}`, "order")
			if err != nil || !strings.Contains(stdout, "run succeeded") {
				t.Fatalf("a child run's step: %v\n%s%s", err, stdout, stderr)
			}
			// The child run's steps come below the workflow step, indented, each named
			// as tests name it, with the request it would send.
			want := []string{
				"  1. invoice (workflow) succeeded",
				"     run ", ":invoice of create_invoice (the child run of step invoice)\n",
				"       1. invoice/create (http) succeeded",
				"          → POST https://billing.example.com/invoices\n",
				"            {\"order\":\"o1\"}\n",
				"            (dry run: not sent; answered 200 {\"number\": \"INV-1\"})\n",
				"       2. invoice/answer (set) succeeded",
				"     run succeeded in ",
				"  2. notify (http) succeeded",
				`{"text":"invoice INV-1"}`,
			}
			at := 0
			for _, w := range want {
				i := strings.Index(stdout[at:], w)
				if i < 0 {
					t.Fatalf("output lacks %q after byte %d:\n%s", w, at, stdout)
				}
				at += i + len(w)
			}
		})
	}
	_, stderr, err := hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--response", "creat=404", "order")
	if err != errUsage || !strings.Contains(stderr, `--response creat: workflow order has no step "creat"; its http and workflow steps are: invoice, notify, invoice/create`) {
		t.Errorf("a step of no workflow it runs: %v\n%s", err, stderr)
	}
	_, stderr, err = hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--response", "create=503", "--response", "invoice/create={}", "order")
	if err != errUsage || !strings.Contains(stderr, "--response create and --response invoice/create answer the same step, invoice/create") {
		t.Errorf("two names of one step: %v\n%s", err, stderr)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"welcome.hcl": "workflow \"welcome\" {\n  step \"set\" \"greeting\" {\n    text = \"hi\"\n  }\n}\n",
	})
	_, stderr, err = hookflowCLI(t, "run", "--dir", dir, "--dry-run", "--response", "nope={}", "welcome")
	if err != errUsage || !strings.Contains(stderr, `--response nope: workflow welcome has no step "nope", and no http or workflow step to answer`) {
		t.Errorf("a workflow without http steps: %v\n%s", err, stderr)
	}
}

// A step's own name answers it only when no other step of the run, or of its child
// runs, has that name: a name that several have is refused with the names that tell
// them apart, and a step of the run itself is named as it is, as tests name it.
func TestRunResponseOfAStepNameSeveralHave(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"order.hcl": `workflow "order" {
  step "http" "create" {
    url = "https://shop.example.com/orders"
  }
  step "workflow" "invoice" {
    workflow = "create_invoice"
  }
  step "workflow" "refund" {
    workflow = "create_invoice"
  }
}

workflow "create_invoice" {
  step "http" "create" {
    method = "POST"
    url    = "https://billing.example.com/invoices"
  }
  step "http" "mail" {
    url = "https://mail.example.com/"
  }
}
`})
	_, stderr, err := hookflowCLI(t, "run", "--dir", dir, "--dry-run", "--response", "mail=500", "order")
	if err != errUsage || !strings.Contains(stderr, `--response mail: more than one step of a run of order is named "mail": invoice/mail, refund/mail; name the one to answer as tests do, STEP/CHILD_STEP`) {
		t.Errorf("a name two child steps have: %v\n%s", err, stderr)
	}
	_, stderr, err = hookflowCLI(t, "run", "--dir", dir, "--dry-run", "--response", "invoice/create=500", "--response", "invoice/mail=503", "--response", "mail=200", "order")
	if err != errUsage || !strings.Contains(stderr, "--response mail: more than one step") {
		t.Errorf("an ambiguous name beside full ones: %v\n%s", err, stderr)
	}

	stdout, stderr, err := hookflowCLI(t, "run", "--dir", dir, "--dry-run",
		"--response", "create=201", "--response", `invoice/create={"id": "X9"}`, "--response", "refund/mail=503", "order")
	if err != exitError(exitFailed) {
		t.Fatalf("refund/mail answered 503: %v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{
		"  1. create (http) succeeded",
		"       (dry run: not sent; answered 201 no body)",
		"       1. invoice/create (http) succeeded",
		`            (dry run: not sent; answered 200 {"id": "X9"})`,
		"       2. invoice/mail (http) succeeded",
		"       1. refund/create (http) succeeded",
		"       2. refund/mail (http) failed",
		"            (dry run: not sent; answered 503 no body)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "answered 200 {}"); n != 2 {
		t.Errorf("%d steps got the default answer, want 2 (invoice/mail, refund/create):\n%s", n, stdout)
	}
}

// A run (not a dry one) prints the child run of each workflow step below it, with
// the requests its steps sent, and waits for a child its step does not wait for.
func TestRunPrintsChildRuns(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	defer api.Close()
	dir := writeFiles(t, t.TempDir(), map[string]string{"order.hcl": `workflow "order" {
  step "workflow" "invoice" {
    workflow = "create_invoice"
  }
  step "workflow" "later" {
    workflow = "create_invoice"
    wait     = false
  }
}

workflow "create_invoice" {
  step "http" "create" {
    method = "POST"
    url    = "` + api.URL + `/invoices"
  }
}
`})
	stdout, stderr, err := hookflowCLI(t, "run", "--dir", dir, "--allow-net", "127.0.0.1/32", "order")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{
		":invoice of create_invoice (the child run of step invoice)\n       1. invoice/create (http) succeeded",
		"          → POST " + api.URL + "/invoices\n",
		`            ← 200 OK in `,
		":later of create_invoice (the child run of step later)\n       1. later/create (http) succeeded",
		"     run succeeded in ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// --json prints the run with its child runs, each under the step or item that started
// it: the embedded Redis they were in is gone once run ends.
func TestRunJSONHoldsChildRuns(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	writeFile(t, event, `{"orders": ["o1", "o2"]}`)
	stdout, stderr, err := hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--json", "--event", event,
		"--response", `create={"number": "INV-1"}`, "batch")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	var run struct {
		Status   string `json:"status"`
		Children []struct {
			Of  string `json:"of"`
			Run struct {
				Workflow string `json:"workflow"`
				Status   string `json:"status"`
				Steps    []struct {
					Name string `json:"name"`
				} `json:"steps"`
			} `json:"run"`
		} `json:"children"`
	}
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if run.Status != "succeeded" || len(run.Children) != 2 || run.Children[0].Of != "invoices[0]" || run.Children[1].Of != "invoices[1]" {
		t.Fatalf("run %+v", run)
	}
	for _, c := range run.Children {
		if c.Run.Workflow != "create_invoice" || c.Run.Status != "succeeded" || len(c.Run.Steps) != 2 || c.Run.Steps[0].Name != "create" {
			t.Errorf("child of %s: %+v", c.Of, c.Run)
		}
	}
}

// --response answers a workflow step with its child's result, as a test's mock does:
// no child run starts, and a status from 400 fails the step.
func TestRunResponseOfAWorkflowStep(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	writeFile(t, event, `{"id": "o1"}`)
	stdout, stderr, err := hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--event", event,
		"--response", `invoice={"number": "INV-9"}`, "order")
	if err != nil || !strings.Contains(stdout, "run succeeded") || !strings.Contains(stdout, `{"text":"invoice INV-9"}`) ||
		strings.Contains(stdout, "child run of step invoice") {
		t.Errorf("a workflow step answered: %v\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err = hookflowCLI(t, "run", "--dir", "testdata/wfchild", "--dry-run", "--event", event,
		"--response", "invoice=500", "order")
	if err == nil || !strings.Contains(stdout, "status 500 (--response)") {
		t.Errorf("a workflow step answered 500: %v\n%s%s", err, stdout, stderr)
	}
	if strings.Contains(stdout, "not found") {
		t.Errorf("the child a --response stood for is said not found:\n%s", stdout)
	}
}

// --response answers each item of a for_each step from its first answer on, as a
// test's mocks do: with answers shared by the items, which item got which would
// depend on the order they ran in. Each item's retry gets its next answer.
func TestRunResponsePerItem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rows.hcl"), `
workflow "rows" {
  step "http" "row" {
    for_each = "[1, 2, 3]"
    url      = "https://sheet.example.com/rows/{{ each.value }}"
    on_error = "continue"
  }
  step "http" "retried" {
    for_each = "[1, 2]"
    url      = "https://sheet.example.com/again/{{ each.value }}"
    retry {
      attempts = 2
      backoff  = "constant"
      initial  = "1ms"
    }
  }
}
`)
	out, errs, err := runArgs("run", "--dir", dir, "--dry-run", "--json",
		"--response", "row=429", "--response", "row=200",
		"--response", "retried=503", "--response", "retried=200", "rows")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errs)
	}
	var run struct {
		Steps []struct {
			Name  string
			Items []struct {
				Path     string
				Status   string
				Attempts int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := map[string]string{"row": "failed", "retried": "succeeded"}
	for _, s := range run.Steps {
		if len(s.Items) == 0 {
			t.Errorf("step %s has no items:\n%s", s.Name, out)
		}
		for _, it := range s.Items {
			if it.Status != want[s.Name] {
				t.Errorf("%s: %s after %d attempts, want %s (each item answered from the first answer on):\n%s",
					it.Path, it.Status, it.Attempts, want[s.Name], out)
			}
		}
	}
}
