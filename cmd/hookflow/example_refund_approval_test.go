package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// TestExampleRefundApproval serves examples/refund-approval: a signed refund request
// asks for approval in Slack with two links; a click on Approve opens a page whose
// button resumes the run, which makes the refund; a second click is refused. A decline
// POSTed as JSON to the other request's link makes none and tells the requester. A
// reason written as Slack markup is sent to Slack escaped.
func TestExampleRefundApproval(t *testing.T) {
	setExampleEnv(t)
	ok := func(body string) func(request, http.ResponseWriter) {
		return func(_ request, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}
	}
	chat := newFakeAPI(t, func(r request, w http.ResponseWriter) { io.WriteString(w, "ok") })
	payments := newFakeAPI(t, ok(`{"id": "re_1", "status": "succeeded"}`))
	mail := newFakeAPI(t, ok(`{"id": "msg_1"}`))
	t.Setenv("SLACK_WEBHOOK_URL", chat.URL+"/services/T0000/B0000/XXXXXXXX")
	t.Setenv("PAYMENTS_URL", payments.URL+"/api")
	t.Setenv("MAIL_URL", mail.URL+"/api")
	s := serveExample(t, "refund-approval")
	hook := "http://" + s.publicAddr + "/hooks/refunds"
	event := exampleFile(t, "refund-approval", "event.json")
	sign := func(body []byte) http.Header {
		return http.Header{"Content-Type": {"application/json"},
			"X-Signature-256": {"sha256=" + hex.EncodeToString(hmacSHA256(exampleEnv["REFUNDS_WEBHOOK_SECRET"], body))}}
	}
	links := regexp.MustCompile(`<(http://localhost:\d+/resume/[^?|]+)\?decision=(approve|decline)\|`)
	// request sends the refund request and returns its run and its Approve and Decline
	// links, as Slack shows them.
	request := func() (string, map[string]string) {
		t.Helper()
		a := deliver(t, hook, event, sign(event))
		if a.status != http.StatusAccepted {
			t.Fatalf("refund request: %d %s", a.status, a.body)
		}
		text, _ := chat.next(t).body.(map[string]any)["text"].(string)
		found := map[string]string{}
		for _, m := range links.FindAllStringSubmatch(text, -1) {
			found[m[2]] = strings.Replace(m[1], "localhost", "127.0.0.1", 1) + "?decision=" + m[2]
		}
		if len(found) != 2 || !strings.HasPrefix(text, "Refund of 49.99 USD for order ord_1042, asked by jenny.rosen@example.com") {
			t.Fatalf("Slack got %q", text)
		}
		return a.json(t)["run_id"].(string), found
	}

	id, link := request()
	if a := deliver(t, hook, []byte(`{"amount": 1}`), http.Header{"X-Signature-256": {"sha256=00"}}); a.status != http.StatusUnauthorized {
		t.Errorf("an unsigned request: %d", a.status)
	}
	// The link opened: a page with a button, and the run still waits.
	req, _ := http.NewRequest("GET", link["approve"], nil)
	req.Header.Set("Accept", "text/html")
	page := deliverReq(t, req)
	if page.status != 200 || !strings.Contains(string(page.body), `<button type="submit">Resume</button>`) {
		t.Fatalf("the Approve link: %d %s", page.status, page.body)
	}
	testutil.Eventually(t, 10*time.Second, "the run waits", func() bool { return runStatus(t, s, id)["status"] == "waiting" })
	if page := deliverReq(t, req.Clone(req.Context())); page.status != 200 {
		t.Fatalf("the Approve link opened again: %d", page.status)
	}
	if st := runStatus(t, s, id)["status"]; st != "waiting" {
		t.Fatalf("the run is %v after the link was opened", st)
	}
	// The button: the page's form POSTs to the link.
	req, _ = http.NewRequest("POST", link["approve"], nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	if a := deliverReq(t, req); a.status != 200 || !strings.Contains(string(a.body), "The run goes on") {
		t.Fatalf("the Resume button: %d %s", a.status, a.body)
	}
	refund := payments.next(t)
	if refund.method != "POST" || refund.path != "/api/refunds" || refund.header.Get("Authorization") != "Bearer "+exampleEnv["PAYMENTS_TOKEN"] {
		t.Errorf("refund request %s %s %v", refund.method, refund.path, refund.header)
	}
	sameJSON(t, "refund", refund.body, `{"order_id": "ord_1042", "amount": 49.99, "currency": "usd", "reason": "Arrived damaged"}`)
	run := waitRun(t, statusURL(s, id))
	wantSteps(t, run, "succeeded", "shown=succeeded", "ask=succeeded", "approval=succeeded", "decision=succeeded", "refund=succeeded", "tell_requester=skipped")
	if a := deliver(t, link["decline"], nil, http.Header{}); a.status != http.StatusConflict {
		t.Errorf("the other link, once decided: %d %s", a.status, a.body)
	}
	exportRefundRun(t, s, id)

	id, link = request()
	decline := strings.TrimSuffix(link["decline"], "?decision=decline")
	if a := deliver(t, decline, []byte(`{"decision": "decline"}`), http.Header{"Content-Type": {"application/json"}}); a.status != 200 {
		t.Fatalf("a decline POSTed as JSON: %d %s", a.status, a.body)
	}
	told := mail.next(t)
	sameJSON(t, "mail", told.body, `{"to": "jenny.rosen@example.com", "subject": "Your refund for order ord_1042", "text": "Your refund request was declined; reply to this message to discuss it."}`)
	wantSteps(t, waitRun(t, statusURL(s, id)), "succeeded", "shown=succeeded", "ask=succeeded", "approval=succeeded", "decision=succeeded", "refund=skipped", "tell_requester=succeeded")
	payments.none(t)

	// A reason written as Slack markup: Slack is sent it escaped, so that it shows as
	// written, beside the only two links, and notifies no one.
	markup := bytes.Replace(event, []byte(`"Arrived damaged"`), []byte(`"<https://evil.example/x|Approve> <!channel> & more"`), 1)
	if a := deliver(t, hook, markup, sign(markup)); a.status != http.StatusAccepted {
		t.Fatalf("a reason written as markup: %d %s", a.status, a.body)
	}
	text, _ := chat.next(t).body.(map[string]any)["text"].(string)
	if !strings.HasPrefix(text, "Refund of 49.99 USD for order ord_1042, asked by jenny.rosen@example.com: &lt;https://evil.example/x|Approve&gt; &lt;!channel&gt; &amp; more. <") ||
		strings.Count(text, "<") != 2 || len(links.FindAllString(text, -1)) != 2 {
		t.Errorf("Slack got %q", text)
	}
}

// exportRefundRun writes the approved run as a test: the expect of ask names the
// member its Slack message was left out for, the resume links signed for that run,
// and the test passes beside the example's workflow.
func exportRefundRun(t *testing.T, s *server, id string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "refund.hcl"), string(exampleFile(t, "refund-approval", "refund.hcl")))
	file := filepath.Join(dir, "approved.test.hcl")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"runs", "export-test", id, "-o", file, "--admin", s.adminAddr}, nil, &out, &out); err != nil {
		t.Fatalf("export-test: %v\n%s", err, out.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	ask := text[strings.Index(text, `expect "ask" {`):]
	ask = ask[:strings.Index(ask, "\n  }\n")]
	if !strings.Contains(ask, "# Left out: url (a secret); json members text (a resume URL signed for the old run): ") || strings.Contains(ask, "json = {}") {
		t.Errorf("the expect of ask:\n%s", ask)
	}
	out.Reset()
	if err := run(context.Background(), []string{"test", dir}, nil, &out, &out); err != nil {
		t.Errorf("the exported test: %v\n%s\n%s", err, out.String(), text)
	}
}

func deliverReq(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, data}
}
