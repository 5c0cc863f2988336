package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// TestStatusShowsAFailedReload: after an edit that breaks a file, status names the
// error by file:line:col and exits 1, workflows says the files are broken, and the
// workflows loaded before keep serving. A secret() of a variable the process was not
// started with says that a restart is needed.
func TestStatusShowsAFailedReload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, false)
	hookflow := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", r.s.adminAddr), nil, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	version := r.s.config.set.Load().Workflow("a").Version

	out, _, err := hookflow("status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"1 workflow in use from " + dir + ", loaded ", "  a     " + version, "files last read: ", ", no errors",
		"redis: embedded, 1 shard\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	writeFile(t, filepath.Join(dir, "b.hcl"), "workflow \"b\" {\n  filter = \"event.body.n >\"\n}\n")
	testutil.Eventually(t, 5*time.Second, "the reload fails", func() bool { return r.status(t)["ok"] == false })
	out, _, err = hookflow("status")
	if err != exitError(exitFailed) {
		t.Errorf("status after a failed reload: %v, want exit status 1", err)
	}
	for _, want := range []string{"1 workflow in use", "  a     " + version, "failed: the files have errors since ", ", and the workflows above, loaded before, keep serving",
		"Error: Invalid expression", "/b.hcl:2:26", `filter = "event.body.n >"`} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`b\.hcl:2:\d+`).MatchString(out) {
		t.Errorf("status does not give file:line:col:\n%s", out)
	}
	if r.hook(t, "a") != http.StatusAccepted {
		t.Error("a no longer served")
	}
	out, errs, err := hookflow("workflows")
	if err != nil || !strings.Contains(out, version) || !strings.Contains(errs, "the workflow files have errors since") {
		t.Errorf("workflows: %v\n%s%s", err, out, errs)
	}
	out, _, _ = hookflow("status", "--json")
	if !strings.Contains(out, `"ok": false`) || !strings.Contains(out, `"a": "`+version+`"`) || !strings.Contains(out, `"failing_since": "`) {
		t.Errorf("status --json:\n%s", out)
	}

	// A secret the process was not started with: only a restart gives it.
	writeFile(t, filepath.Join(dir, "b.hcl"), "workflow \"b\" {\n  trigger \"webhook\" {\n    path = \"/b\"\n  }\n"+
		"  step \"http\" \"call\" {\n    url     = \"https://api.example.com\"\n    headers = { Authorization = secret(\"HOOKFLOW_STATUS_TEST_TOKEN\") }\n  }\n}\n")
	testutil.Eventually(t, 5*time.Second, "the reload fails on the secret", func() bool {
		return strings.Contains(r.status(t)["error"].(string), "HOOKFLOW_STATUS_TEST_TOKEN")
	})
	out, _, _ = hookflow("status")
	for _, want := range []string{"Secret HOOKFLOW_STATUS_TEST_TOKEN is not set", "/b.hcl:7:33", "restart it"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if r.hook(t, "b") != http.StatusNotFound || r.hook(t, "a") != http.StatusAccepted {
		t.Error("a refused set changed what is served")
	}

	// Fixed: status is clean again, and workflows says nothing more.
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b"))
	testutil.Eventually(t, 5*time.Second, "b answers", func() bool { return r.hook(t, "b") == http.StatusAccepted })
	out, _, err = hookflow("status")
	if err != nil || !strings.Contains(out, "2 workflows in use") || !strings.Contains(out, ", no errors") {
		t.Errorf("status: %v\n%s", err, out)
	}
	if _, errs, err := hookflow("workflows"); err != nil || errs != "" {
		t.Errorf("workflows: %v %q", err, errs)
	}
}

// hookflow status names the Redis mode: standalone, a cluster with its primaries,
// Sentinel; and says why Redis is unreachable. The e2e tests check it
// against a running cluster and Sentinel group.
func TestStatusNamesTheRedisMode(t *testing.T) {
	for _, c := range []struct {
		name string
		st   engine.RedisStatus
		want string
	}{
		{"standalone", engine.RedisStatus{Mode: engine.RedisStandalone, Shards: 1}, "redis: standalone, 1 shard\n"},
		{"cluster", engine.RedisStatus{Mode: engine.RedisCluster, Primaries: 3, Shards: 16, WaitReplicas: 1},
			"redis: cluster of 3 primaries, 16 shards, starts wait for 1 replica\n"},
		{"cluster of one, down", engine.RedisStatus{Mode: engine.RedisCluster, Primaries: 1, Shards: 16, State: "unreachable",
			Error: "the Redis Cluster is down: primary 10.0.0.2:7001 says cluster_state:fail"},
			"redis: cluster of 1 primary, 16 shards\nredis: unreachable: the Redis Cluster is down: primary 10.0.0.2:7001 says cluster_state:fail\n"},
		{"sentinel", engine.RedisStatus{Mode: engine.RedisSentinel, Shards: 1, WaitReplicas: 2}, "redis: sentinel, 1 shard, starts wait for 2 replicas\n"},
		{"standalone with none online", engine.RedisStatus{Mode: engine.RedisStandalone, Shards: 1, WaitReplicas: 1, Replicas: new(int)},
			"redis: standalone, 1 shard, starts wait for 1 replica (0 online)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if err := printRedis(&out, &c.st); err != nil || out.String() != c.want {
				t.Errorf("got %q, %v; want %q", out.String(), err, c.want)
			}
		})
	}
}

// Each process tells the build it runs, so that those of a rolling deploy can be told
// apart: serve in its start line, GET /api/v1/status, hookflow status and /metrics; a
// worker in its start line and /metrics.
func TestProcessesTellTheirBuild(t *testing.T) {
	b := thisBuild()
	metric := fmt.Sprintf(`hookflow_build_info{goversion=%q,revision=%q,version=%q} 1`, b.Go, b.Revision, b.Version)
	startLine := func(t *testing.T, log, msg string) {
		t.Helper()
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, `msg="`+msg+`"`) {
				if !strings.Contains(line, " version="+b.Version+" ") && !strings.Contains(line, fmt.Sprintf(" version=%q ", b.Version)) {
					t.Errorf("the start line has no version %s: %s", b.Version, line)
				}
				return
			}
		}
		t.Errorf("no line %q in the log:\n%s", msg, log)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, true)
	startLine(t, r.log(), "hookflow serving")
	if got := getJSON(t, "http://"+r.s.adminAddr+"/api/v1/status")["version"]; got != b.String() {
		t.Errorf("GET /api/v1/status: version %v, want %q", got, b.String())
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"status", "--admin", r.s.adminAddr}, nil, &stdout, &stdout); err != nil ||
		!strings.HasPrefix(stdout.String(), "version: "+b.String()+"\n") {
		t.Errorf("hookflow status: %v\n%s", err, stdout.String())
	}
	hasLines(t, func() string { return r.metrics(t) }, metric)

	buf := &strings.Builder{}
	log := &syncWriter{w: buf}
	cfg := serveConfig{dir: dir, redisURL: redistest.Mini(t).URL, workers: 1, metricsAddr: "127.0.0.1:0"}
	w, err := startWorker(context.Background(), cfg, slog.New(slog.NewTextHandler(log, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stop() })
	log.mu.Lock()
	startLine(t, buf.String(), "hookflow worker running")
	log.mu.Unlock()
	hasLines(t, func() string {
		resp, err := http.Get("http://" + w.metricsOut.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	}, metric)
}

// The status says since when the files have failed to load: the first failure of a
// streak, though they are read again on every change and every 30 s.
func TestStatusSaysSinceWhenTheFilesFail(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r, _, _ := reloaderOn(t, dir)
	bad := filepath.Join(dir, "bad.hcl")
	writeFile(t, bad, "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	first := r.Changed("files changed")
	if first.OK || first.FailingSince == nil || !first.FailingSince.Equal(first.LoadedAt) {
		t.Fatalf("status after the first failure: %+v, want failing since it", first)
	}
	since := *first.FailingSince
	again := r.Reload("SIGHUP")
	writeFile(t, bad, "workflow \"x\" {\n  concurrency = -1\n}\n")
	other := r.Changed("files changed")
	for _, st := range []admin.ConfigStatus{again, other, r.Status()} {
		if st.OK || st.FailingSince == nil || !st.FailingSince.Equal(since) || !st.LoadedAt.After(since) {
			t.Errorf("status after more failures: failing since %v, last read %v; want failing since %v", st.FailingSince, st.LoadedAt, since)
		}
	}

	must(t, os.Remove(bad))
	if st := r.Reload("SIGHUP"); !st.OK || st.FailingSince != nil {
		t.Errorf("status once fixed: %+v, want no failing_since", st)
	}
	writeFile(t, bad, "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	if st := r.Changed("files changed"); st.FailingSince == nil || !st.FailingSince.After(since) {
		t.Errorf("a new streak of failures: failing since %v, want after %v", st.FailingSince, since)
	}

	// As status and workflows print it: since the first failure, not the last read.
	at := time.Date(2026, 12, 4, 19, 40, 2, 0, time.UTC)
	st := admin.ConfigStatus{OK: false, LoadedAt: at.Add(time.Hour), FailingSince: &at, LastSuccessAt: at.Add(-time.Hour)}
	var out strings.Builder
	printStatus(&out, &st)
	printBroken(&out, &st)
	for _, want := range []string{
		"files last read: " + localTime(st.LoadedAt) + ", failed: the files have errors since " + localTime(at) + ", and the workflows above",
		"the workflow files have errors since " + localTime(at) + ": these are the ones loaded " + localTime(st.LastSuccessAt),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
