package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const approvalSrc = `
workflow "approve" {
  trigger "webhook" {
    path = "/approve"
  }
  step "set" "ask" {
    url = "{{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  step "set" "done" {
    approved = "{{ steps.approval.body.approved }}"
  }
}
`

// runStatus reads a run from the admin API.
func runStatus(t *testing.T, s *server, id string) map[string]any {
	t.Helper()
	resp, err := http.Get(statusURL(s, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var run map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil {
		t.Fatal(err)
	}
	return run
}

// waitingRun starts a run of approve and waits until it waits; it returns its id and
// the resume URL its ask step rendered.
func waitingRun(t *testing.T, s *server) (string, string) {
	t.Helper()
	_, started := postJSON(t, "http://"+s.publicAddr+"/hooks/approve", `{}`)
	id := started["run_id"].(string)
	var run map[string]any
	testutil.Eventually(t, 10*time.Second, "the run waits", func() bool {
		run = runStatus(t, s, id)
		return run["status"] == "waiting"
	})
	url, _ := stepNamed(t, run, "ask")["output"].(map[string]any)["url"].(string)
	return id, url
}

// A run waits at its wait step until a POST to its resume URL, on the public
// listener, resumes it: a GET shows a page and resumes nothing; a second POST is
// refused. hookflow runs resume does the same through the admin API.
func TestResumeURL(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), approvalSrc)
	s := serveDir(t, dir, "", "127.0.0.1:0")
	id, url := waitingRun(t, s)
	if want := "http://localhost:" + portOf(s.publicAddr) + "/resume/"; !strings.HasPrefix(url, want) {
		t.Fatalf("resume URL %q, want it under %s", url, want)
	}
	url = strings.Replace(url, "localhost", "127.0.0.1", 1)

	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<button") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, page)
	}
	if st := runStatus(t, s, id)["status"]; st != "waiting" {
		t.Fatalf("after a GET the run is %v", st)
	}
	if code, out := postJSON(t, url, `{"approved": true}`); code != 200 || out["status"] != "resumed" {
		t.Fatalf("POST: %d %v", code, out)
	}
	if code, _ := postJSON(t, url, `{"approved": false}`); code != 409 {
		t.Errorf("a second POST: %d, want 409", code)
	}
	if code, _ := postJSON(t, url+"x", `{}`); code != 404 {
		t.Errorf("a POST with a wrong token: %d, want 404", code)
	}
	done := waitRun(t, statusURL(s, id))
	if done["status"] != "succeeded" || stepNamed(t, done, "done")["output"].(map[string]any)["approved"] != true {
		t.Errorf("run %v", done)
	}

	hookflow := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), append(args, "--admin", s.adminAddr), nil, &stdout, io.Discard)
		return stdout.String(), err
	}
	id2, _ := waitingRun(t, s)
	out, err := hookflow("runs", "show", id2)
	if err != nil || !strings.Contains(out, "2. approval (wait) waiting, times out ") {
		t.Errorf("runs show of a waiting run: %v\n%s", err, out)
	}
	out, err = hookflow("runs", "list", "--status", "waiting")
	if err != nil || !strings.Contains(out, id2) || strings.Contains(out, id+" ") {
		t.Errorf("runs list --status waiting: %v\n%s", err, out)
	}
	// --json is the output switch, as for every command of the admin API; the body is
	// --body, and one given to --json is refused before anything is sent.
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"runs", "resume", id2, "approval", "--json", `{"approved": "by hand"}`, "--admin", s.adminAddr}, nil, io.Discard, &stderr)
	if err != errUsage || !strings.Contains(stderr.String(), `--json prints the admin API's answer as JSON and takes no value; give the resume's body with --body '{"approved": "by hand"}'`) {
		t.Errorf("runs resume --json BODY: %v\n%s", err, stderr.String())
	}
	out, err = hookflow("runs", "resume", id2, "approval", "--body", `{"approved": "by hand"}`)
	if err != nil || !strings.Contains(out, "run "+id2+" resumed at step approval") {
		t.Fatalf("runs resume: %v\n%s", err, out)
	}
	id3, _ := waitingRun(t, s)
	out, err = hookflow("runs", "resume", "--json", id3, "approval")
	var resumed struct {
		RunID   string `json:"run_id"`
		Step    string `json:"step"`
		Waiting bool   `json:"waiting"`
	}
	if err != nil || json.Unmarshal([]byte(out), &resumed) != nil || resumed.RunID != id3 || resumed.Step != "approval" || !resumed.Waiting {
		t.Errorf("runs resume --json: %v %s", err, out)
	}
	if _, err := hookflow("runs", "resume", id2, "approval"); err == nil || !strings.Contains(err.Error(), "(409)") {
		t.Errorf("resuming it again: %v", err)
	}
	if _, err := hookflow("runs", "resume", id2, "ask"); err == nil || !strings.Contains(err.Error(), "(400)") {
		t.Errorf("resuming a set step: %v", err)
	}
	done = waitRun(t, statusURL(s, id2))
	if stepNamed(t, done, "done")["output"].(map[string]any)["approved"] != "by hand" {
		t.Errorf("run %v", done)
	}
	if out, err = hookflow("runs", "show", id2); err != nil || !strings.Contains(out, "2. approval (wait) succeeded, resumed after ") {
		t.Errorf("runs show of a resumed run: %v\n%s", err, out)
	}
}

// --public-url is what resume URLs start with; a URL that is not one is refused.
func TestPublicURL(t *testing.T) {
	for _, c := range []struct{ flag, listen, want string }{
		{"", ":9090", "http://localhost:9090/resume/"},
		{"", "", "http://localhost:8080/resume/"},
		{"https://hooks.example.com/", ":8080", "https://hooks.example.com/resume/"},
		{"https://example.com/hookflow", ":8080", "https://example.com/hookflow/resume/"},
	} {
		if got, err := resumeBase(c.flag, c.listen); err != nil || got != c.want {
			t.Errorf("resumeBase(%q, %q) = %q, %v; want %q", c.flag, c.listen, got, err, c.want)
		}
	}
	// The inspector's webhook URLs start with it too.
	if got := webhookBase("https://hooks.example.com/", "127.0.0.1:8080"); got != "https://hooks.example.com" {
		t.Errorf("webhookBase with --public-url: %q", got)
	}
	if got := webhookBase("", "127.0.0.1:8080"); got != "http://127.0.0.1:8080" {
		t.Errorf("webhookBase without --public-url: %q", got)
	}
	for _, bad := range []string{"hooks.example.com", "ftp://x", "https://x/?a=1", "http://"} {
		if _, err := resumeBase(bad, ":8080"); err == nil {
			t.Errorf("--public-url %q accepted", bad)
		}
	}
}

// --resume of a step that is no wait step says which wait steps there are: the nearest
// name, or every one.
func TestRunResumeNoWaitStep(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), `workflow "approve" {
  step "set" "ask" {
    url = "{{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`)
	for _, tc := range []struct{ step, want string }{
		{"aproval", `--resume aproval: workflow approve has no wait step "aproval"; did you mean "approval"?`},
		{"akc", `--resume akc: workflow approve has no wait step "akc"; did you mean "ack"?`},
		{"nothing", `--resume nothing: workflow approve has no wait step "nothing"; there are: approval, ack`},
		{"ask", `--resume ask: step "ask" of workflow approve is a set step, not a wait step; its wait steps are: approval, ack`},
	} {
		t.Run(tc.step, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", tc.step + "={}", "approve"}, nil, &stdout, &stderr)
			want := "hookflow run: " + tc.want + "\nRun 'hookflow run --help' for usage.\n"
			if code := exitStatus(err, &stderr); code != exitUsage || stderr.String() != want {
				t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr.String(), want)
			}
		})
	}
}

// A resume block of a step that is not a wait step, or of no step, is an error at its
// line; --resume of a step that is not a wait step is a usage error.
func TestResumeMistakes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), approvalSrc)
	writeFile(t, filepath.Join(dir, "approve.test.hcl"), `test "t" {
  workflow = "approve"
  resume "ask" {
    json = {}
  }
  resume "aproval" {
    body = "yes"
  }
}
`)
	out, code := hookflowTest(t, dir)
	if code != exitFailed || !strings.Contains(out, "approve.test.hcl:3:10, in test \"t\"") || !strings.Contains(out, `Step "ask" is a set step: only wait steps are resumed.`) ||
		!strings.Contains(out, "approve.test.hcl:6:10") || !strings.Contains(out, `Workflow "approve" has no step "aproval". Did you mean "approval"?`) {
		t.Errorf("hookflow test: exit %d:\n%s", code, out)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "ask={}", "approve"}, nil, &stdout, &stderr)
	if exitStatus(err, &stderr) != 2 || !strings.Contains(stderr.String(), `--resume ask: step "ask" of workflow approve is a set step, not a wait step; its wait steps are: approval`) {
		t.Errorf("run --resume ask: %v\n%s", err, stderr.String())
	}
	stdout.Reset()
	err = run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "approval={\"approved\": \"yes\"}", "approve"}, nil, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), `"approved": "yes"`) || !strings.Contains(stdout.String(), "run succeeded") {
		t.Errorf("run --resume approval: %v\n%s", err, stdout.String())
	}
	// A body from a file, and a file that is not there.
	body := filepath.Join(dir, "answer.json")
	writeFile(t, body, `{"approved": "from a file"}`)
	stdout.Reset()
	err = run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "approval=" + body, "approve"}, nil, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), `"approved": "from a file"`) {
		t.Errorf("run --resume approval=FILE: %v\n%s", err, stdout.String())
	}
	stderr.Reset()
	err = run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "approval=" + body + ".missing", "approve"}, nil, &stdout, &stderr)
	if exitStatus(err, &stderr) != 2 || !strings.Contains(stderr.String(), "--resume approval: open ") {
		t.Errorf("run --resume approval=MISSING: %v\n%s", err, stderr.String())
	}
}

// --resume names a wait step of the on_failure block as it is written, as resume_url
// and hookflow runs resume do.
func TestRunResumeOnFailureWait(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), `
workflow "charge" {
  step "http" "pay" {
    url = "https://pay.example.com/charges"
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
    step "log" "acked" {
      message = "acked: {{ run.error }}"
    }
  }
}
`)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--response", "pay=500", "--resume", `ack={"who": "ada"}`, "charge"},
		nil, &stdout, &stderr)
	if exitStatus(err, &stderr) != exitFailed || !strings.Contains(stdout.String(), `"who": "ada"`) {
		t.Errorf("run --resume ack: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String()+stderr.String(), "acked: step pay:") {
		t.Errorf("the on_failure step after the wait did not run:\n%s%s", stdout.String(), stderr.String())
	}
}

// --resume and --response take any JSON value inline, true or 42 as well as an object,
// when no file has that name; a file that has it is read.
func TestRunTakesInlineJSONScalars(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), `
workflow "approve" {
  step "http" "check" {
    url = "https://api.example.com/check"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  step "log" "got" {
    message = "got {{ toJSON(steps.approval.body) }} after {{ toJSON(steps.check.body) }}"
  }
}
`)
	for _, tc := range []struct{ resume, response, want string }{
		{"true", "42", "got true after 42"},
		{`"yes"`, "null", `got \"yes\" after null`},
		{"-1.5", `"ok"`, `got -1.5 after \"ok\"`},
		{"{}", "[]", "got {} after []"},
	} {
		t.Run(tc.resume+" "+tc.response, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "approval=" + tc.resume,
				"--response", "check=" + tc.response, "approve"}, nil, &stdout, &stderr)
			if err != nil || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Errorf("%v, want %q:\n%s%s", err, tc.want, stdout.String(), stderr.String())
			}
		})
	}
	// A file named as a JSON value is read: a file wins where there is one.
	t.Chdir(dir)
	writeFile(t, filepath.Join(dir, "true"), `"from the file"`)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--resume", "approval=true", "approve"}, nil, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), `"body": "from the file"`) {
		t.Errorf("a file named true: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}

// A resume URL answers 503 with Retry-After, to a GET and a POST, while hookflow shuts
// down and while Redis cannot be reached; the wait is not resumed, and is once Redis is
// back.
func TestResumeURLWhileShuttingDownOrRedisDown(t *testing.T) {
	b := redistest.Durable(t) // the run is there once Redis is back
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), approvalSrc)
	s := serveDir(t, dir, b.URL, "127.0.0.1:0")
	id, url := waitingRun(t, s)
	url = strings.Replace(url, "localhost", "127.0.0.1", 1)
	unavailable := func(when string) {
		t.Helper()
		for _, method := range []string{"GET", "POST"} {
			req, _ := http.NewRequest(method, url, strings.NewReader(`{"approved": true}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s while %s: %d, Retry-After %q: %s; want 503 with Retry-After", method, when,
					resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		}
	}
	s.draining.Store(true)
	unavailable("shutting down")
	s.draining.Store(false)
	b.Stop()
	unavailable("Redis is down")
	b.Restart()
	if st := runStatus(t, s, id)["status"]; st != "waiting" {
		t.Fatalf("after the refused resumes the run is %v", st)
	}
	if code, out := postJSON(t, url, `{"approved": true}`); code != 200 || out["status"] != "resumed" {
		t.Fatalf("POST once Redis is back: %d %v", code, out)
	}
	if done := waitRun(t, statusURL(s, id)); done["status"] != "succeeded" {
		t.Errorf("run %v", done)
	}
}

// --resume names a wait as tests name it: "approval" the run's own wait, "c/approval"
// that of the child run of step c, "kids/approval" those of the child runs of a
// for_each workflow step's items; none resumes another's, in a run or a dry run.
func TestRunResumeNamesOneWait(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "parent" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "workflow" "c" {
    workflow = "kid"
  }
  step "workflow" "kids" {
    for_each = "[1, 2]"
    workflow = "kid"
  }
}

workflow "kid" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "set" "seen" {
    by = "{{ toJSON(steps.approval.body) }}"
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`})
	// by is what resumed each wait: the parent's, c's child's, each kids item's child's.
	type seen struct{ parent, c, kids string }
	for _, tc := range []struct {
		name    string
		resumes []string
		want    seen
	}{
		{"the run's wait only", []string{`approval="parent"`}, seen{`"parent"`, "null", "null"}},
		{"the children's waits", []string{`c/approval="c"`, `kids/approval="kids"`}, seen{"null", `"c"`, `"kids"`}},
	} {
		for _, dry := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s dry=%v", tc.name, dry), func(t *testing.T) {
				args := []string{"run", "--dir", dir, "--json"}
				if dry {
					args = append(args, "--dry-run")
				}
				for _, r := range tc.resumes {
					args = append(args, "--resume", r)
				}
				stdout, stderr, err := hookflowCLI(t, append(args, "parent")...)
				if err != nil {
					t.Fatalf("%v\n%s%s", err, stdout, stderr)
				}
				var run struct {
					Steps []struct {
						Name   string         `json:"name"`
						Output map[string]any `json:"output"`
					} `json:"steps"`
					Children []struct {
						Of  string `json:"of"`
						Run struct {
							Steps []struct {
								Name   string         `json:"name"`
								Output map[string]any `json:"output"`
							} `json:"steps"`
						} `json:"run"`
					} `json:"children"`
				}
				if err := json.Unmarshal([]byte(stdout), &run); err != nil {
					t.Fatalf("%v\n%s", err, stdout)
				}
				got := map[string]string{}
				if body, ok := run.Steps[0].Output["body"]; ok {
					data, _ := json.Marshal(body)
					got["approval"] = string(data)
				} else {
					got["approval"] = "null"
				}
				for _, c := range run.Children {
					got[c.Of] = fmt.Sprint(c.Run.Steps[1].Output["by"])
				}
				want := map[string]string{"approval": tc.want.parent, "c": tc.want.c, "kids[0]": tc.want.kids, "kids[1]": tc.want.kids}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("resumed with %v, want %v\n%s", got, want, stdout)
				}
			})
		}
	}
	for _, tc := range []struct {
		resumes []string
		want    string
	}{
		{[]string{"nope"}, `--resume nope: workflow parent has no wait step "nope"; there are: approval, c/approval, c/ack, kids/approval, kids/ack`},
		{[]string{"c/aproval"}, `--resume c/aproval: a run of parent has no wait step "c/aproval"; did you mean "c/approval"?`},
		{[]string{"c/seen"}, `--resume c/seen: step "c/seen" of a run of parent is a set step, not a wait step; its wait steps are: approval, c/approval, c/ack, kids/approval, kids/ack`},
		{[]string{"kids[1]/approval"}, `--resume kids[1]/approval: "kids[1]/approval" names a wait step of the child run of one item; the child runs of every item are resumed alike, as tests name them: --resume kids/approval resumes each`},
		{[]string{"c/ack", "c/on_failure/ack"}, `--resume c/ack and --resume c/on_failure/ack resume the same wait step, c/on_failure/ack: a wait is resumed once`},
	} {
		args := []string{"run", "--dir", dir}
		for _, r := range tc.resumes {
			args = append(args, "--resume", r+"={}")
		}
		_, stderr, err := hookflowCLI(t, append(args, "parent")...)
		if err != errUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("--resume %s: %v\n%s", strings.Join(tc.resumes, " --resume "), err, stderr)
		}
	}
}
