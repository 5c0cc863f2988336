package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/engine"
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

// TestTheACLOfSecurityMdWorksOnACluster: the same ACL, given on every node of a Redis
// Cluster, serves hookflow there: its -@dangerous denies INFO, and hookflow still
// tells the node is a cluster's (by CLUSTER INFO), whichever node the URL names,
// with ?addr= seeds or not. serve says mode=cluster, a webhook of a workflow whose
// shard another primary holds is relayed to its end, /readyz is 200 and the status says
// Redis is ok; with --redis-wait-replicas, the status says info_denied and /readyz is
// 503, as docs/security.md says.
func TestTheACLOfSecurityMdWorksOnACluster(t *testing.T) {
	ctx := context.Background()
	const recipe = "ACL SETUSER hookflow on >PASSWORD +@all -@dangerous ~hf:* ~{hf:*"
	b := redistest.SharedCluster(t)
	for _, addr := range b.Cluster.Addrs {
		args := []any{"ACL", "SETUSER", "hookflow", "reset", "on", ">pw"}
		for _, r := range strings.Fields(recipe)[4:] {
			args = append(args, r)
		}
		if err := b.Cluster.Node(t, addr).Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	holder, err := b.Cluster.PrimaryOf(ctx, "hf:shards")
	if err != nil {
		t.Fatal(err)
	}
	var other string // a primary that does not hold hf:shards
	for i := range engine.DefaultClusterShards {
		p, err := b.Cluster.PrimaryOf(ctx, fmt.Sprintf("{hf:%d}:", i))
		if err != nil {
			t.Fatal(err)
		}
		if p != holder {
			other = p
		}
	}
	if other == "" {
		t.Fatal("one primary holds every slot asked")
	}
	for _, c := range []struct {
		name, seed, query string
		waitReplicas      int
	}{
		{"a seed that holds hf:shards", holder, "", 0},
		{"a seed that does not", other, "", 0},
		{"more seeds in ?addr=", holder, "?addr=" + other, 0},
		{"--redis-wait-replicas 1", other, "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			redistest.SharedCluster(t) // empties it
			// A workflow whose shard (of the 16 a cluster gets) is held by another
			// primary than the one the URL names.
			name := ""
			for i := 0; name == ""; i++ {
				p, err := b.Cluster.PrimaryOf(ctx, engine.ShardPrefix("order_paid_"+strconv.Itoa(i), engine.DefaultClusterShards))
				if err != nil {
					t.Fatal(err)
				}
				if p != c.seed {
					name = "order_paid_" + strconv.Itoa(i)
				}
			}
			dir, calls := ordersDir(t)
			writeFile(t, filepath.Join(dir, "orders.hcl"), strings.Replace(ordersSrc, `"order_paid"`, strconv.Quote(name), 1))
			var logs syncBuffer
			url := "redis://hookflow:pw@" + c.seed + c.query
			s, err := startServer(ctx, serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: url,
				workers: 4, allowNet: loopback, waitReplicas: c.waitReplicas}, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
			if err != nil {
				t.Fatalf("starting: %v\n%s", err, logs.String())
			}
			t.Cleanup(func() { _ = s.shutdown() })
			if !strings.Contains(logs.String(), "mode=cluster") {
				t.Errorf("serve does not say mode=cluster:\n%s", logs.String())
			}
			st := redisStatus(t, s)
			if st.Mode != engine.RedisCluster {
				t.Errorf("status: %+v", st)
			}
			if c.waitReplicas > 0 {
				if st.State != "info_denied" || !strings.Contains(st.Error, "INFO") {
					t.Errorf("status with --redis-wait-replicas: %+v", st)
				}
				if code, raw := adminGet(t, s, "/readyz"); code != http.StatusServiceUnavailable {
					t.Errorf("/readyz with --redis-wait-replicas: %d %s", code, raw)
				}
				return
			}
			status, body := postJSON(t, "http://"+s.publicAddr+"/hooks/orders", paidOrder)
			if status != http.StatusAccepted {
				t.Fatalf("webhook: %d %v\n%s", status, body, logs.String())
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
			if st.State != "ok" || st.Error != "" {
				t.Errorf("status: %+v", st)
			}
		})
	}
}

// TestServeExits1WhenRedisCannotTellItIsACluster: a Redis user that may run neither
// INFO nor CLUSTER INFO leaves hookflow unable to tell a standalone Redis from a
// cluster node; serve exits 1 saying so and what to allow, rather than guess.
func TestServeExits1WhenRedisCannotTellItIsACluster(t *testing.T) {
	b := redistest.Real(t)
	url := aclUser(t, b, "hookflow", "+@all", "-@dangerous", "-cluster|info", "~hf:*", "~{hf:*")
	dir, _ := ordersDir(t)
	var logs bytes.Buffer
	s, err := startServer(context.Background(), serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		redisURL: url, workers: 2, allowNet: loopback}, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err == nil {
		s.shutdown()
		t.Fatal("serve started with a Redis user that may run neither INFO nor CLUSTER INFO")
	}
	var stderr bytes.Buffer
	if code := exitStatus(err, &stderr); code != exitFailed {
		t.Errorf("exit status %d, want %d: %s", code, exitFailed, stderr.String())
	}
	for _, want := range []string{"cannot tell whether " + strings.TrimPrefix(b.URL, "redis://") + " is a node of a Redis Cluster", "NOPERM", "+cluster|info"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the error does not say %q: %s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), ":pw@") {
		t.Errorf("the error quotes the password: %s", stderr.String())
	}
}
