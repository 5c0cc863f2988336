package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// hookflow serve on a Redis Cluster whose primary and its replica are killed: the
// webhooks of the cluster's slots are answered 503, and so is /readyz, saying which
// primary is unreachable; status says the cluster is down (and exits 1), and runs list
// says Redis is unreachable. Once both nodes are back, /readyz is 200 and webhooks are
// accepted again.
func TestReadyzFollowsTheCluster(t *testing.T) {
	b := redistest.NewCluster(t, time.Second)
	ctx := context.Background()
	s := serveHookA(t, b.URL)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.adminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	hookflow := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(ctx, append(args, "--admin", s.adminAddr), nil, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}
	hook := func() int {
		resp, err := http.Post("http://"+s.publicAddr+"/hooks/a", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz on a healthy cluster: %d %s", code, body)
	}

	primary, err := b.Cluster.PrimaryOf(ctx, engine.ShardPrefix("a", engine.DefaultClusterShards))
	if err != nil {
		t.Fatal(err)
	}
	replica, err := b.Cluster.ReplicaOf(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	b.Cluster.Kill(primary)
	b.Cluster.Kill(replica)
	t.Logf("killed the primary %s of workflow a's shard and its replica %s", primary, replica)

	var body string
	testutil.Eventually(t, 15*time.Second, "/readyz 503 naming the dead primary and cluster_state:fail", func() bool {
		var code int
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "primary "+primary+" is unreachable") &&
			strings.Contains(body, "cluster_state:fail")
	})
	t.Logf("/readyz: %s", body)
	if code := hook(); code != http.StatusServiceUnavailable {
		t.Errorf("a webhook while the cluster is down: %d", code)
	}

	var status struct {
		Redis engine.RedisStatus `json:"redis"`
	}
	if _, raw := get("/api/v1/status"); json.Unmarshal([]byte(raw), &status) != nil ||
		status.Redis.State != "unreachable" || !strings.Contains(status.Redis.Error, "primary "+primary+" is unreachable") {
		t.Errorf("/api/v1/status while the cluster is down: %s", raw)
	}
	out, err := hookflow("status")
	if err != exitError(exitFailed) || !strings.Contains(out, "redis: unreachable: the Redis Cluster is down: primary "+primary+" is unreachable") {
		t.Errorf("status while the cluster is down: %v\n%s", err, out)
	}
	out, err = hookflow("runs", "list")
	if err == nil || !strings.Contains(err.Error(), "listing runs failed: Redis is unreachable: the Redis Cluster is down") ||
		!strings.Contains(err.Error(), "(503)") {
		t.Errorf("runs list while the cluster is down: %v\n%s", err, out)
	}

	for _, addr := range []string{primary, replica} {
		if err := b.Cluster.Restart(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Cluster.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "/readyz 200 once the nodes are back", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	testutil.Eventually(t, 15*time.Second, "a webhook accepted once the nodes are back", func() bool {
		return hook() == http.StatusAccepted
	})
	if out, err := hookflow("runs", "list"); err != nil {
		t.Errorf("runs list once the nodes are back: %v\n%s", err, out)
	}
}

// hookflow serve with --redis-wait-replicas 1 on a primary without a replica answers
// every webhook 503: /readyz fails too, saying how many replicas are online against
// how many starts wait for, and status says so (and exits 1). A replica that joins
// makes it ready; one that stops makes it fail again.
func TestReadyzCountsTheReplicasWaitedFor(t *testing.T) {
	primary := redistest.Real(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	var logs syncWriter
	logs.w = io.Discard
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: primary.URL, workers: 2,
		allowNet: loopback, waitReplicas: 1}
	s, err := startServer(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.adminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	hook := func() int {
		resp, err := http.Post("http://"+s.publicAddr+"/hooks/a", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status := func() (engine.RedisStatus, string, error) {
		var st struct {
			Redis engine.RedisStatus `json:"redis"`
		}
		_, raw := get("/api/v1/status")
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("/api/v1/status: %s", raw)
		}
		var out bytes.Buffer
		err := run(ctx, []string{"status", "--admin", s.adminAddr}, nil, &out, &out)
		return st.Redis, out.String(), err
	}
	const few = "too few replicas: starts wait for 1 replica to acknowledge them (--redis-wait-replicas), and the primary has 0 of them online"

	if code := hook(); code != http.StatusServiceUnavailable {
		t.Errorf("a webhook without a replica: %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"redis: `+few) {
		t.Errorf("/readyz without a replica: %d %s", code, body)
	}
	st, out, err := status()
	if st.State != "few_replicas" || st.Replicas == nil || *st.Replicas != 0 || !strings.Contains(st.Error, few) {
		t.Errorf("/api/v1/status without a replica: %+v", st)
	}
	if err != exitError(exitFailed) || !strings.Contains(out, "redis: standalone, 1 shard, starts wait for 1 replica (0 online)\nredis: "+few) {
		t.Errorf("status without a replica: %v\n%s", err, out)
	}

	replica := redistest.Replica(t, primary)
	testutil.Eventually(t, 15*time.Second, "/readyz 200 once a replica is online", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	if code := hook(); code != http.StatusAccepted {
		t.Errorf("a webhook with a replica: %d", code)
	}
	st, out, err = status()
	if st.State != "ok" || st.Replicas == nil || *st.Replicas != 1 || st.Error != "" {
		t.Errorf("/api/v1/status with a replica: %+v", st)
	}
	if err != nil || !strings.Contains(out, "starts wait for 1 replica (1 online)\n") || strings.Contains(out, "too few") {
		t.Errorf("status with a replica: %v\n%s", err, out)
	}

	replica.Stop()
	var body string
	testutil.Eventually(t, 15*time.Second, "/readyz 503 once the replica stopped", func() bool {
		var code int
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, few)
	})
	if code := hook(); code != http.StatusServiceUnavailable {
		t.Errorf("a webhook after the replica stopped: %d", code)
	}
}

// /readyz answers within a second while Redis holds its connections and answers
// nothing (a stopped process, a partition): 503, saying so, rather than nothing until
// the Redis client's read timeout, seconds later, past a probe's own timeout.
func TestReadyzAnswersWhileRedisHangs(t *testing.T) {
	b := redistest.Real(t)
	s := serveHookA(t, b.URL)
	probe := &http.Client{Timeout: 2 * time.Second}
	get := func() (int, string) {
		resp, err := probe.Get("http://" + s.adminAddr + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	b.Pause()
	for range 3 {
		if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "Redis did not answer within 1s") {
			t.Errorf("/readyz while Redis hangs: %d %s", code, body)
		}
	}
	b.Resume()
	testutil.Eventually(t, 15*time.Second, "/readyz 200 once Redis answers", func() bool {
		code, _ := get()
		return code == http.StatusOK
	})
}

// serveHookA starts serve on the Redis at url with one webhook workflow, a, logging
// nowhere; it is shut down when the test ends.
func serveHookA(t *testing.T, url string) *server {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	var logs syncWriter
	logs.w = io.Discard
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", redisURL: url, workers: 2, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	return s
}
