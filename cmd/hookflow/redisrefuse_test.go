package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// aclUser makes a Redis user of b with rules and returns the URL that logs in as it.
func aclUser(t *testing.T, b *redistest.Backend, name string, rules ...string) string {
	t.Helper()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">pw"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := b.Client.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
	return "redis://" + name + ":pw@" + strings.TrimPrefix(b.URL, "redis://")
}

// ordersDir writes the orders workflow, calling crm, to a directory of its own.
func ordersDir(t *testing.T) (dir string, calls chan apiCall) {
	crm, calls := fakeCRM(t)
	t.Setenv("E2E_API_URL", crm.URL)
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.hcl"), []byte(ordersSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

const paidOrder = `{"type": "order.paid", "amount": 2500, "email": "ada@example.com"}`

// TestWebhooksWhileRedisRefusesStarts: a Redis that refuses every start (an ACL without
// EVALSHA, or its memory full with noeviction) is not one that did not answer: each
// webhook is answered 503 saying Redis refused the start and why, its run not stored;
// /readyz, /api/v1/status and hookflow status say that Redis refuses starts, until it
// takes them again.
func TestWebhooksWhileRedisRefusesStarts(t *testing.T) {
	for _, c := range []struct {
		name    string
		rules   []string
		refuse  func(t *testing.T, b *redistest.Backend)
		mend    func(t *testing.T, b *redistest.Backend)
		refusal string
	}{
		{"acl", []string{"+@all", "-evalsha", "-eval", "~*"}, nil,
			func(t *testing.T, b *redistest.Backend) {
				b.Client.Do(context.Background(), "ACL", "SETUSER", "user", "+evalsha", "+eval")
			}, "the Redis user may not run EVALSHA (ACL)"},
		{"full", []string{"+@all", "~*"}, func(t *testing.T, b *redistest.Backend) { b.Fill(t) },
			func(t *testing.T, b *redistest.Backend) { b.Client.Del(context.Background(), "filler") },
			"it is out of memory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := redistest.Real(t)
			dir, _ := ordersDir(t)
			s := serveDir(t, dir, aclUser(t, b, "user", c.rules...), "127.0.0.1:0")
			hook := "http://" + s.publicAddr + "/hooks/orders"
			if c.refuse != nil {
				if status, body := postJSON(t, hook, paidOrder); status != http.StatusAccepted { // its source stored
					t.Fatalf("webhook: %d %v", status, body)
				}
				c.refuse(t, b)
			}
			runs := len(b.Keys(context.Background(), "{hf:0}:run:*"))
			status, body := postJSON(t, hook, paidOrder)
			want := "Redis refused the start: " + c.refusal
			if msg, _ := body["error"].(string); status != http.StatusServiceUnavailable || !strings.Contains(msg, want) ||
				!strings.Contains(msg, "not stored") || strings.Contains(msg, "did not answer") {
				t.Errorf("webhook: %d %v, want 503 saying %q", status, body, want)
			}
			if n := len(b.Keys(context.Background(), "{hf:0}:run:*")); n != runs {
				t.Errorf("%d runs after the refused start, %d before", n, runs)
			}
			if code, raw := adminGet(t, s, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(raw, "Redis refuses starts: "+c.refusal) {
				t.Errorf("/readyz: %d %s", code, raw)
			}
			if st := redisStatus(t, s); st.State != "refused" || !strings.Contains(st.Error, c.refusal) {
				t.Errorf("/api/v1/status: %+v", st)
			}
			var out bytes.Buffer
			if err := run(context.Background(), []string{"status", "--admin", s.adminAddr}, nil, &out, &out); err != exitError(exitFailed) ||
				!strings.Contains(out.String(), "redis: Redis refuses starts: "+c.refusal) {
				t.Errorf("hookflow status: %v\n%s", err, out.String())
			}
			c.mend(t, b)
			testutil.Eventually(t, 5*time.Second, "/readyz 200 once Redis takes writes", func() bool {
				code, _ := adminGet(t, s, "/readyz")
				return code == http.StatusOK
			})
			if status, body := postJSON(t, hook, paidOrder); status != http.StatusAccepted {
				t.Errorf("webhook once Redis takes writes: %d %v", status, body)
			}
		})
	}
}

func adminGet(t *testing.T, s *server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.adminAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func redisStatus(t *testing.T, s *server) engine.RedisStatus {
	t.Helper()
	var st struct {
		Redis engine.RedisStatus `json:"redis"`
	}
	_, raw := adminGet(t, s, "/api/v1/status")
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("/api/v1/status: %s", raw)
	}
	return st.Redis
}

// syncBuffer is a log the process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAPIMdListsEveryRedisState: every state the engine gives /api/v1/status's redis
// (engine.RedisStatus.State) is listed in docs/api.md.
func TestAPIMdListsEveryRedisState(t *testing.T) {
	code, err := os.ReadFile("../../engine/deployment.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile(`"([a-z_]+)"`)
	states := map[string]bool{}
	for _, line := range strings.Split(string(code), "\n") {
		if !strings.Contains(line, "State") || strings.Contains(line, "json:") || strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		for _, m := range quoted.FindAllStringSubmatch(line, -1) {
			states[m[1]] = true
		}
	}
	if len(states) < 5 {
		t.Fatalf("found only the states %v in engine/deployment.go", states)
	}
	for s := range states {
		if !strings.Contains(string(doc), "`"+s+"`") {
			t.Errorf("docs/api.md does not list the redis state `%s`", s)
		}
	}
}
