package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The examples run end to end: each example directory served as `hookflow serve` does
// (embedded Redis), its sample event sent over HTTP signed as its provider signs it, and
// the APIs it calls played by httptest servers that record what they get.

// exampleEnv is what the examples need to load: their secrets, and the URLs that have
// no default. The URLs of the APIs they call default to real hosts; each test points
// them at its fakes.
var exampleEnv = map[string]string{
	"QUICKSTART_HOOKS_URL":  "http://127.0.0.1:8080/hooks",
	"GITHUB_WEBHOOK_SECRET": "It's a Secret to Everybody",
	"SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
}

func setExampleEnv(t *testing.T) {
	for k, v := range exampleEnv {
		t.Setenv(k, v)
	}
}

// The signers below are the providers' documented schemes; this checks them against
// the published test vectors, so that the tests below sign as the providers do.
func TestExampleSignatureVectors(t *testing.T) {
	if got := signGitHub("It's a Secret to Everybody", []byte("Hello, World!")); got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("github: %s", got)
	}
}

func TestExampleGitHubPush(t *testing.T) {
	setExampleEnv(t)
	chat := newFakeAPI(t, func(r request, w http.ResponseWriter) { io.WriteString(w, "ok") })
	t.Setenv("SLACK_WEBHOOK_URL", chat.URL+"/services/T0000/B0000/XXXXXXXX")
	s := serveExample(t, "github-push")
	hook := "http://" + s.publicAddr + "/hooks/github"
	secret := exampleEnv["GITHUB_WEBHOOK_SECRET"]
	event, headers := exampleFile(t, "github-push", "event.json"), exampleHeaders(t, "github-push")

	// Signed with another secret: refused, nothing started.
	h := headers.Clone()
	h.Set("X-Hub-Signature-256", signGitHub("not the secret", event))
	if a := deliver(t, hook, event, h); a.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", a.status, a.body)
	}
	if runs := listRuns(t, s, "github_push"); len(runs) != 0 {
		t.Fatalf("a refused delivery started runs: %v", runs)
	}

	h = headers.Clone()
	h.Set("X-Hub-Signature-256", signGitHub(secret, event))
	a := deliver(t, hook, event, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)
	msg := chat.next(t)
	if msg.method != "POST" || msg.path != "/services/T0000/B0000/XXXXXXXX" || msg.header.Get("Idempotency-Key") != runID+":notify" {
		t.Errorf("message sent as %s %s, Idempotency-Key %q", msg.method, msg.path, msg.header.Get("Idempotency-Key"))
	}
	sameJSON(t, "message", msg.body, `{"text": "*octocat* pushed 1 commit to `+"`main`"+` of <https://github.com/octocat/Hello-World|octocat/Hello-World> (<https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f|compare>)\n`+
		`• <https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> Update README.md (The Octocat)\n"}`)
	wantSteps(t, waitRun(t, statusURL(s, runID)), "succeeded", "summary=succeeded", "notify=succeeded")

	// GitHub delivers again after a timeout: the same delivery id starts nothing.
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "duplicate" || a.json(t)["run_id"] != runID {
		t.Errorf("repeated delivery: %d %s", a.status, a.body)
	}

	// Two commits, one with markup in its message: it is escaped, and the count plural.
	var push map[string]any
	if err := json.Unmarshal(event, &push); err != nil {
		t.Fatal(err)
	}
	second := map[string]any{"id": "5c0ffee000000000000000000000000000000000", "message": "Compare with a < b && b > c\n\nDetails.",
		"url": "https://github.com/octocat/Hello-World/commit/5c0ffee", "author": map[string]any{"name": "Mona"}}
	push["commits"] = append(push["commits"].([]any), second)
	a = deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-2")
	if a.status != http.StatusAccepted {
		t.Fatalf("push of two commits: %d %s", a.status, a.body)
	}
	msg = chat.next(t)
	text, _ := msg.body.(map[string]any)["text"].(string)
	if !strings.Contains(text, "pushed 2 commits to") ||
		!strings.HasSuffix(text, "\n• <https://github.com/octocat/Hello-World/commit/5c0ffee|5c0ffee> Compare with a &lt; b &amp;&amp; b &gt; c (Mona)\n") {
		t.Errorf("message of two commits:\n%s", text)
	}
	wantSteps(t, waitRun(t, statusURL(s, a.json(t)["run_id"].(string))), "succeeded", "summary=succeeded", "notify=succeeded")

	// A push to another branch, a branch deleted, and the ping sent when the webhook is
	// created are answered "filtered" and send nothing.
	push["ref"] = "refs/heads/feature"
	if a := deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-3"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("push to a feature branch: %d %s", a.status, a.body)
	}
	push["ref"], push["deleted"] = "refs/heads/main", true
	if a := deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-4"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("deleted branch: %d %s", a.status, a.body)
	}
	ping := headers.Clone()
	ping.Set("X-GitHub-Event", "ping")
	if a := deliverGitHub(t, hook, []byte(`{"zen": "Keep it logically awesome.", "hook_id": 292430182}`), ping, secret, "delivery-5"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("ping: %d %s", a.status, a.body)
	}
	chat.none(t)
}

func deliverGitHub(t *testing.T, hook string, body []byte, headers http.Header, secret, delivery string) answer {
	t.Helper()
	h := headers.Clone()
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", signGitHub(secret, body))
	return deliver(t, hook, body, h)
}
