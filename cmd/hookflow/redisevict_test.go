package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestAnEvictingRedisIsWarnedOf: a Redis with a maxmemory and a policy that evicts
// keys would drop runs without a word: serve says so at start (WARN), and the status
// shows it as a warning, while Redis stays ready. A Redis whose ACL denies INFO says
// nothing more.
func TestAnEvictingRedisIsWarnedOf(t *testing.T) {
	for _, c := range []struct {
		policy, maxmemory string
		rules             []string
		warn              string
	}{
		{"allkeys-lru", "100mb", []string{"+@all", "~*"}, "maxmemory-policy allkeys-lru with maxmemory 104857600): it would drop queued and running runs"},
		{"volatile-ttl", "100mb", []string{"+@all", "~*"}, "maxmemory-policy volatile-ttl with maxmemory 104857600): it would drop the keys with a time to live"},
		{"allkeys-lru", "0", []string{"+@all", "~*"}, ""},
		{"noeviction", "100mb", []string{"+@all", "~*"}, ""},
		{"allkeys-lru", "100mb", []string{"+@all", "-info", "~*"}, ""},
	} {
		t.Run(c.policy+" "+c.maxmemory+" "+strings.Join(c.rules, " "), func(t *testing.T) {
			b := redistest.Real(t)
			ctx := context.Background()
			for _, kv := range [][2]string{{"maxmemory-policy", c.policy}, {"maxmemory", c.maxmemory}} {
				if err := b.Client.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
					t.Fatal(err)
				}
			}
			dir, _ := ordersDir(t)
			var logs syncBuffer
			s, err := startServer(ctx, serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0",
				redisURL: aclUser(t, b, "user", c.rules...), workers: 2, allowNet: loopback}, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer s.shutdown()
			warned := strings.Contains(logs.String(), "level=WARN msg=\"Redis evicts keys when its memory is full")
			if warned != (c.warn != "") || !strings.Contains(logs.String(), c.warn) {
				t.Errorf("the log at start, want a warning %q:\n%s", c.warn, logs.String())
			}
			st := redisStatus(t, s)
			if !strings.Contains(st.Warning, c.warn) || (st.Warning == "") != (c.warn == "") || st.State != "ok" {
				t.Errorf("/api/v1/status: %+v, want the warning %q", st, c.warn)
			}
			var out bytes.Buffer
			err = run(ctx, []string{"status", "--admin", s.adminAddr}, nil, &out, &out)
			if err != nil || strings.Contains(out.String(), "redis: warning: ") != (c.warn != "") {
				t.Errorf("hookflow status: %v\n%s", err, out.String())
			}
			if code, raw := adminGet(t, s, "/readyz"); code != http.StatusOK {
				t.Errorf("/readyz: %d %s", code, raw)
			}
		})
	}
}
