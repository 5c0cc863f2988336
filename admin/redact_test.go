package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A step that sent its run's resume URL (the message asking for an approval) keeps it
// in its recorded request, its log and its output. The read-only role reads them with
// the token's signature [redacted], in the API's JSON, on the inspector's pages, in the
// run list and search, the dead letters and a run exported as a test, so it cannot
// resume the run; the operator reads them as sent, and the URL the sender got still
// resumes the run.
func TestReaderGetsNoResumeToken(t *testing.T) {
	sent := make(chan string, 1)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		sent <- string(body)
		io.WriteString(w, "ok")
	}))
	defer slack.Close()
	e, set, _ := serveAPI(t, `
workflow "refund" {
  step "http" "ask" {
    method = "POST"
    url    = "`+slack.URL+`/ask"
    json   = { text = "Refund? <{{ resume_url('approval') }}?decision=approve|Approve>" }
  }
  step "log" "asked" {
    message = "asked at {{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}

workflow "relay" {
  step "log" "got" {
    message = "got"
  }
}

workflow "callback" {
  step "http" "register" {
    url = "`+slack.URL+`/fail?back={{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	mux := http.NewServeMux()
	api := Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet)
	mux.Handle("/api/", api)
	mux.Handle("/", Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{SignOut: true}, quiet))
	srv := httptest.NewServer(Protect(mux, a))
	defer srv.Close()
	ctx := context.Background()

	id, err := e.Start(ctx, set.Workflow("refund"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	failed, err := e.Start(ctx, set.Workflow("callback"), &workflows.Event{ID: "e2", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	body := <-sent
	link := regexp.MustCompile(`http://[^?"|>]+/resume/[A-Za-z0-9_.-]+`).FindString(body)
	_, token, _ := strings.Cut(link, "/resume/")
	payload, _, _ := strings.Cut(token, ".")
	if token == "" || !strings.Contains(token, ".") {
		t.Fatalf("no resume URL in what the step sent: %s", body)
	}
	read := func(bearer, path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
		}
		return string(data)
	}
	waitFor := func(id, status string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, "run "+id+" "+status, func() bool {
			var run engine.Run
			return json.Unmarshal([]byte(read(a.OperatorToken, "/api/v1/runs/"+id)), &run) == nil && string(run.Status) == status
		})
	}
	waitFor(id, "waiting")
	waitFor(failed, "failed")
	// The callback's token, percent-encoded in its URL, in its error and dead letter.
	otherToken := func() string {
		u, _ := e.ResumeURL(ctx, "callback", failed, "approval")
		_, tok, _ := strings.Cut(u, "/resume/")
		return tok
	}()

	// A run whose event holds the URL (a message relayed to it): its body, read alone,
	// is redacted as the run's JSON is.
	relayed, err := e.Start(ctx, set.Workflow("relay"), &workflows.Event{ID: "e3", Trigger: "manual", ReceivedAt: time.Now(),
		ContentType: "text/plain", Raw: "approve at " + link + "?decision=approve"})
	if err != nil {
		t.Fatal(err)
	}
	if body := read(a.ReadToken, "/api/v1/runs/"+relayed+"/event/body"); strings.Contains(body, token) || !strings.Contains(body, payload+".[redacted]") {
		t.Errorf("the reader's event body holds the resume token, or no redacted one: %s", body)
	}
	if body := read(a.OperatorToken, "/api/v1/runs/"+relayed+"/event/body"); body != "approve at "+link+"?decision=approve" {
		t.Errorf("the operator's event body %q is not the event's", body)
	}

	paths := []string{"/api/v1/runs/" + id, "/api/v1/runs/" + failed, "/api/v1/runs", "/api/v1/runs?text=manual",
		"/api/v1/dlq", "/runs/" + id, "/runs/" + failed, "/", "/?q=manual", "/dlq"}
	for _, path := range paths {
		t.Run("reader "+path, func(t *testing.T) {
			page := read(a.ReadToken, path)
			for _, tok := range []string{token, otherToken} {
				if strings.Contains(page, tok) {
					t.Errorf("a working resume token in\n%s", page)
				}
			}
			if strings.Contains(path, id) && !strings.Contains(page, payload+".[redacted]") {
				t.Errorf("no redacted token in\n%s", page)
			}
		})
	}
	t.Run("reader signed in", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/runs/"+id, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: a.newSession(roleReader, time.Now().Add(time.Hour))})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(page), token) || !strings.Contains(string(page), payload+".[redacted]") {
			t.Errorf("%d\n%s", resp.StatusCode, page)
		}
	})
	for _, path := range []string{"/api/v1/runs/" + id, "/runs/" + id} {
		if page := read(a.OperatorToken, path); !strings.Contains(page, token) {
			t.Errorf("the operator's %s has not the URL the step sent:\n%s", path, page)
		}
	}

	// What the reader saw resumes nothing; the URL the sender got resumes the run.
	res, err := workflows.NewResume("application/json", []byte(`{}`), nil, url.Values{"decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ResumeToken(ctx, payload+".[redacted]", res); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("resuming with the redacted token: %v", err)
	}
	if _, err := e.ResumeToken(ctx, token, res); err != nil {
		t.Fatalf("resuming with the sender's URL: %v", err)
	}
	waitFor(id, "succeeded")
	if test := read(a.ReadToken, "/api/v1/runs/"+id+"/test"); strings.Contains(test, token) {
		t.Errorf("the run as a test holds the token:\n%s", test)
	}
}
