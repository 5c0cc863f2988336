package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestTheACLOfSecurityMdWorks: a Redis user with the ACL docs/security.md gives
// (+@all -@dangerous ~hf:* ~{hf:*) serves hookflow: a webhook is relayed to its end,
// /readyz is 200 and the status says Redis is ok.
func TestTheACLOfSecurityMdWorks(t *testing.T) {
	b := redistest.Real(t)
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	const recipe = "ACL SETUSER hookflow on >PASSWORD +@all -@dangerous ~hf:* ~{hf:*"
	if !strings.Contains(string(doc), recipe) {
		t.Fatalf("docs/security.md does not give the ACL %q", recipe)
	}
	url := aclUser(t, b, "hookflow", strings.Fields(recipe)[4:]...)
	dir, calls := ordersDir(t)
	s := serveDir(t, dir, url, "127.0.0.1:0")
	status, body := postJSON(t, "http://"+s.publicAddr+"/hooks/orders", paidOrder)
	if status != http.StatusAccepted {
		t.Fatalf("webhook: %d %v", status, body)
	}
	if run := waitRun(t, body["status_url"].(string)); run["status"] != "succeeded" {
		t.Fatalf("run %v", run)
	}
	if len(calls) != 2 {
		t.Errorf("%d calls to the API, want 2", len(calls))
	}
	if code, raw := adminGet(t, s, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, raw)
	}
	if st := redisStatus(t, s); st.State != "ok" || st.Error != "" {
		t.Errorf("status: %+v", st)
	}
}

// TestServeExits1WhenTheACLDeniesItsKeys: a Redis user whose ACL denies hookflow's keys
// is a configuration error, which waiting does not mend: serve exits 1 (not 3, "worth
// retrying later"), naming the key refused and the key patterns the user needs.
func TestServeExits1WhenTheACLDeniesItsKeys(t *testing.T) {
	b := redistest.Real(t)
	url := aclUser(t, b, "app", "+@all", "~app:*")
	dir, _ := ordersDir(t)
	var logs bytes.Buffer
	s, err := startServer(context.Background(), serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		redisURL: url, workers: 2, allowNet: loopback}, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err == nil {
		s.shutdown()
		t.Fatal("serve started with a Redis user that may not use its keys")
	}
	var stderr bytes.Buffer
	if code := exitStatus(err, &stderr); code != exitFailed {
		t.Errorf("exit status %d, want %d: %s", code, exitFailed, stderr.String())
	}
	for _, want := range []string{"hf:shards", "NOPERM", "~hf:* ~{hf:*"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the error does not say %q: %s", want, stderr.String())
		}
	}
}
