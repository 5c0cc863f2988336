package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// hookSrc is a workflow named name with a webhook at /hooks/<name>.
func hookSrc(name string) string {
	return fmt.Sprintf("workflow %q {\n  trigger \"webhook\" {\n    path = \"/%s\"\n  }\n}\n", name, name)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reloading is hookflow serving dir, with its log.
type reloading struct {
	s    *server
	logs *syncWriter
	buf  *strings.Builder
}

func serveReloading(t *testing.T, dir string, noWatch bool) *reloading {
	t.Helper()
	r := &reloading{buf: &strings.Builder{}}
	r.logs = &syncWriter{w: r.buf}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 4, noWatch: noWatch, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(r.logs, nil)), r.logs)
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	t.Cleanup(func() {
		s.shutdown()
		if t.Failed() {
			t.Logf("hookflow log:\n%s", r.log())
		}
	})
	return r
}

func (r *reloading) log() string {
	r.logs.mu.Lock()
	defer r.logs.mu.Unlock()
	return r.buf.String()
}

// hook posts to /hooks/<name> and returns the status.
func (r *reloading) hook(t *testing.T, name string) int {
	t.Helper()
	resp, err := http.Post("http://"+r.s.publicAddr+"/hooks/"+name, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *reloading) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + r.s.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

func (r *reloading) status(t *testing.T) map[string]any {
	t.Helper()
	return getJSON(t, "http://"+r.s.adminAddr+"/api/v1/status")["config"].(map[string]any)
}

func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b"))
	r := serveReloading(t, dir, false)
	if r.hook(t, "a") != http.StatusAccepted {
		t.Fatal("a does not answer")
	}

	// An editor's save: a temp file renamed over the old one. One reload.
	tmp := filepath.Join(dir, ".a.hcl.swp")
	writeFile(t, tmp, hookSrc("a")+hookSrc("c"))
	if err := os.Rename(tmp, filepath.Join(dir, "a.hcl")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "c answers", func() bool { return r.hook(t, "c") == http.StatusAccepted })
	time.Sleep(300 * time.Millisecond)
	if n := strings.Count(r.log(), "workflows reloaded"); n != 1 {
		t.Errorf("%d reloads for one save", n)
	}

	// One bad file among many: the whole new set is refused, the reason names it.
	writeFile(t, filepath.Join(dir, "bad.hcl"), "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	testutil.Eventually(t, 5*time.Second, "the status says the load failed", func() bool { return r.status(t)["ok"] == false })
	if m := r.metrics(t); !strings.Contains(m, "hookflow_config_last_reload_successful 0") ||
		!strings.Contains(m, "hookflow_config_last_reload_success_timestamp_seconds ") {
		t.Errorf("metrics after a failed reload:\n%s", m)
	}
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b")+hookSrc("d"))
	time.Sleep(300 * time.Millisecond) // the change to b.hcl is seen, and refused with bad.hcl
	if st := r.status(t); !strings.Contains(st["error"].(string), "bad.hcl:2:") {
		t.Errorf("status %v does not name bad.hcl:2", st)
	}
	if r.hook(t, "d") != http.StatusNotFound || r.hook(t, "c") != http.StatusAccepted {
		t.Error("a refused set changed what is served")
	}
	if !strings.Contains(r.log(), "level=ERROR") {
		t.Error("the refused reload was not logged at ERROR")
	}

	// Fixed: d is served; c, removed with a.hcl, is gone.
	os.Remove(filepath.Join(dir, "bad.hcl"))
	os.Remove(filepath.Join(dir, "a.hcl"))
	testutil.Eventually(t, 5*time.Second, "d answers", func() bool { return r.hook(t, "d") == http.StatusAccepted })
	if r.hook(t, "c") != http.StatusNotFound || r.hook(t, "a") != http.StatusNotFound {
		t.Error("removed workflows still answer")
	}
	if r.status(t)["ok"] != true {
		t.Errorf("status %v", r.status(t))
	}
	if m := r.metrics(t); !strings.Contains(m, "hookflow_config_last_reload_successful 1") {
		t.Errorf("metrics after a good reload:\n%s", m)
	}

	// A new subdirectory, and a file in it.
	writeFile(t, filepath.Join(dir, "team", "e.hcl"), hookSrc("e"))
	testutil.Eventually(t, 5*time.Second, "e answers", func() bool { return r.hook(t, "e") == http.StatusAccepted })
}

// TestReloadSymlinkSwap: a directory updated the way Kubernetes updates a mounted
// ConfigMap, by swapping the ..data link to a new hidden directory.
func TestReloadSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "..v1", "w.hcl"), hookSrc("one"))
	must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "w.hcl"), filepath.Join(dir, "w.hcl")))
	r := serveReloading(t, dir, false)
	if r.hook(t, "one") != http.StatusAccepted {
		t.Fatal("one does not answer")
	}
	writeFile(t, filepath.Join(dir, "..v2", "w.hcl"), hookSrc("two"))
	must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	testutil.Eventually(t, 5*time.Second, "two answers", func() bool { return r.hook(t, "two") == http.StatusAccepted })
	if r.hook(t, "one") != http.StatusNotFound {
		t.Error("one still answers")
	}
}

// TestReloadByAPI: with --no-watch, a change waits for POST /api/v1/reload; an
// unchanged directory reloads nothing.
func TestReloadByAPI(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, true)
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("b"))
	time.Sleep(300 * time.Millisecond)
	if r.hook(t, "b") != http.StatusNotFound {
		t.Fatal("reloaded with --no-watch")
	}
	reload := func() map[string]any {
		resp, err := http.Post("http://"+r.s.adminAddr+"/api/v1/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out["config"].(map[string]any)
	}
	if st := reload(); st["ok"] != true || st["workflows"] != float64(1) {
		t.Errorf("reload: %v", st)
	}
	if r.hook(t, "b") != http.StatusAccepted {
		t.Error("b does not answer after the reload")
	}
	reload()
	if n := strings.Count(r.log(), "workflows reloaded"); n != 1 {
		t.Errorf("%d reloads, want 1: the second found nothing changed", n)
	}
}

// Each reload asked for (SIGHUP, POST /api/v1/reload) that is refused is logged, with
// the first error, though the files are as broken as at the last; the watcher's, once
// for each content of the files.
func TestRefusedReloadsAreLogged(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	k := kinds(nil, nil)
	set, _ := load(dir, k, io.Discard)
	var logs strings.Builder
	r := newReloader(dir, k, set, 0, "", slog.New(slog.NewTextHandler(&logs, nil)), io.Discard, prometheus.NewRegistry(), func(*workflows.Set) {})
	bad := filepath.Join(dir, "bad.hcl")
	writeFile(t, bad, "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	refusals := func() int { return strings.Count(logs.String(), "workflows not reloaded") }

	r.Changed("files changed")
	if n := refusals(); n != 1 || !strings.Contains(logs.String(), `err="`+bad+`:2:26: Invalid expression"`) {
		t.Fatalf("%d refusals logged, want 1 naming the first error:\n%s", n, logs.String())
	}
	r.Changed("files changed") // the watcher called, but nothing changed
	if n := refusals(); n != 1 {
		t.Errorf("%d refusals logged for files unchanged, want 1:\n%s", n, logs.String())
	}
	r.Reload("SIGHUP")
	r.Reload("POST /api/v1/reload")
	if n := refusals(); n != 3 || !strings.Contains(logs.String(), "the files still have errors") ||
		strings.Count(logs.String(), `err="`+bad+`:2:26: Invalid expression"`) != 3 {
		t.Errorf("%d refusals logged after two asked for, want 3:\n%s", n, logs.String())
	}
	// Another file changed, the error the same: the change is refused too.
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a")+hookSrc("b"))
	r.Changed("files changed")
	if n := refusals(); n != 4 {
		t.Errorf("%d refusals logged after a change, want 4:\n%s", n, logs.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReloadManySaves: 100 saves within a second make few reloads, and the last save
// is what is served.
func TestReloadManySaves(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), hookSrc("s0"))
	r := serveReloading(t, dir, false)
	for i := 1; i <= 100; i++ {
		writeFile(t, filepath.Join(dir, "w.hcl"), hookSrc(fmt.Sprintf("s%d", i)))
		time.Sleep(8 * time.Millisecond)
	}
	testutil.Eventually(t, 5*time.Second, "the last save is served", func() bool { return r.hook(t, "s100") == http.StatusAccepted })
	if r.hook(t, "s99") != http.StatusNotFound {
		t.Error("an earlier save is still served")
	}
	if n := strings.Count(r.log(), "workflows reloaded"); n > 10 {
		t.Errorf("%d reloads for 100 saves in a second", n)
	}
}

// TestReloadKeepsRunsOnTheirVersion: a run in flight when its workflow changes ends
// with the version it started with; the next event gets the new one.
func TestReloadKeepsRunsOnTheirVersion(t *testing.T) {
	release := make(chan struct{})
	got := make(chan string, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Version string }
		json.NewDecoder(r.Body).Decode(&body)
		if r.URL.Path == "/first" {
			<-release
		}
		got <- r.URL.Path + " " + body.Version
	}))
	defer api.Close()
	src := func(version string) string {
		return fmt.Sprintf(`workflow "w" {
  trigger "webhook" {
    path = "/w"
  }
  step "http" "first" {
    url  = "%[1]s/first"
    json = { version = "%[2]s" }
  }
  step "http" "second" {
    url  = "%[1]s/second"
    json = { version = "%[2]s" }
  }
}
`, api.URL, version)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), src("v1"))
	r := serveReloading(t, dir, false)
	s := r.s

	_, first := postJSON(t, "http://"+s.publicAddr+"/hooks/w", `{}`)
	writeFile(t, filepath.Join(dir, "w.hcl"), src("v2"))
	testutil.Eventually(t, 5*time.Second, "the reload", func() bool { return strings.Contains(r.log(), "workflows reloaded") })
	close(release)
	waitRun(t, first["status_url"].(string))
	_, next := postJSON(t, "http://"+s.publicAddr+"/hooks/w", `{}`)
	waitRun(t, next["status_url"].(string))
	close(got)
	var calls []string
	for c := range got {
		calls = append(calls, c)
	}
	want := []string{"/first v1", "/second v1", "/first v2", "/second v2"}
	if strings.Join(calls, ", ") != strings.Join(want, ", ") {
		t.Errorf("calls %v, want %v", calls, want)
	}
}

// TestReloadFollowsFileReads: a change to a file a workflow reads with file() is a
// change of the workflow, though no .hcl file changed.
func TestReloadFollowsFileReads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "path.txt"), "/one")
	writeFile(t, filepath.Join(dir, "w.hcl"), "workflow \"w\" {\n  trigger \"webhook\" {\n    path = file(\"path.txt\")\n  }\n}\n")
	r := serveReloading(t, dir, false)
	if r.hook(t, "one") != http.StatusAccepted {
		t.Fatal("one does not answer")
	}
	writeFile(t, filepath.Join(dir, "path.txt"), "/two")
	testutil.Eventually(t, 5*time.Second, "two answers", func() bool { return r.hook(t, "two") == http.StatusAccepted })
}

// TestReloadThroughALinkedDirectory: the workflow directory may be a symbolic link.
func TestReloadThroughALinkedDirectory(t *testing.T) {
	real := t.TempDir()
	writeFile(t, filepath.Join(real, "w.hcl"), hookSrc("one"))
	link := filepath.Join(t.TempDir(), "workflows")
	must(t, os.Symlink(real, link))
	r := serveReloading(t, link, false)
	if r.hook(t, "one") != http.StatusAccepted {
		t.Fatal("one does not answer")
	}
	writeFile(t, filepath.Join(real, "w.hcl"), hookSrc("two"))
	testutil.Eventually(t, 5*time.Second, "two answers", func() bool { return r.hook(t, "two") == http.StatusAccepted })
}

// TestNoReloadOnceShuttingDown: a reload asked for while shutting down changes nothing.
func TestNoReloadOnceShuttingDown(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), hookSrc("one"))
	r := serveReloading(t, dir, true)
	r.s.config.Close()
	writeFile(t, filepath.Join(dir, "w.hcl"), hookSrc("two"))
	if st := r.s.config.Reload("test"); st.OK || !strings.Contains(st.Error, "shutting down") {
		t.Errorf("status %+v", st)
	}
	if r.hook(t, "one") != http.StatusAccepted {
		t.Error("the set changed")
	}
}

// POST /api/v1/reload answers 422 when the files have errors, with the diagnostics,
// and changes nothing; 200 once they are fixed.
func TestReloadByAPIRefused(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, true)
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a")+hookSrc("b"))
	bad := filepath.Join(dir, "bad.hcl")
	writeFile(t, bad, "workflow \"x\" {\n  filter = \"event.body.n >\"\n}\n")
	code, out := postJSON(t, "http://"+r.s.adminAddr+"/api/v1/reload", "")
	st, _ := out["config"].(map[string]any)
	if code != http.StatusUnprocessableEntity || st["ok"] != false || !strings.Contains(fmt.Sprint(st["error"]), "bad.hcl:2:") {
		t.Errorf("reload of files with errors: %d %v, want 422 naming bad.hcl:2", code, out)
	}
	if r.hook(t, "b") != http.StatusNotFound || r.hook(t, "a") != http.StatusAccepted {
		t.Error("a refused reload changed what is served")
	}
	os.Remove(bad)
	if code, out := postJSON(t, "http://"+r.s.adminAddr+"/api/v1/reload", ""); code != http.StatusOK || out["config"].(map[string]any)["ok"] != true {
		t.Errorf("reload of the files fixed: %d %v", code, out)
	}
	if r.hook(t, "b") != http.StatusAccepted {
		t.Error("b does not answer after the reload")
	}
}

// serve looks at its directory again every 30 s, and so applies a change no event
// reports: here a workflow file is a link to a file outside the directory, written in
// place, which the watches of the directory do not see. The rescan is shortened here;
// workflows.DefaultRescan is the 30 s docs/operations.md states.
func TestReloadRescansWhatIsNotReported(t *testing.T) {
	if workflows.DefaultRescan != 30*time.Second {
		t.Errorf("the rescan is every %v, docs/operations.md says 30 s", workflows.DefaultRescan)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil || !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), "It also looks again every 30 s, for file systems that do not report changes") {
		t.Errorf("docs/operations.md does not give the rescan's 30 s (%v)", err)
	}
	target := filepath.Join(t.TempDir(), "a.hcl")
	writeFile(t, target, hookSrc("a"))
	dir := t.TempDir()
	if err := os.Symlink(target, filepath.Join(dir, "a.hcl")); err != nil {
		t.Fatal(err)
	}
	s := serveWith(t, serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2,
		allowNet: loopback, rescan: 500 * time.Millisecond})
	r := &reloading{s: s}
	if r.hook(t, "a") != http.StatusAccepted {
		t.Fatal("a does not answer")
	}
	writeFile(t, target, hookSrc("a")+hookSrc("b"))
	testutil.Eventually(t, 10*time.Second, "b answers", func() bool { return r.hook(t, "b") == http.StatusAccepted })
}

// A file that fails to load on a credential's own value (client_secret = "…" + 1)
// is refused with the value [redacted] in the status and the log, which quote its line.
func TestReloadErrorHidesWrittenCredential(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	r := serveReloading(t, dir, false)
	writeFile(t, filepath.Join(dir, "leaky.hcl"), `api "leaky" {
  base_url = "https://api.example.com"
  auth "oauth2" {
    token_url = "https://auth.example.com/t"
    client_id = "cid"
    client_secret = "CLIENTSECRET_literal_222" + 1
  }
}
`)
	testutil.Eventually(t, 5*time.Second, "the status says the load failed", func() bool { return r.status(t)["ok"] == false })
	st, _ := r.status(t)["error"].(string)
	if !strings.Contains(st, "client_secret = [redacted] + 1") {
		t.Errorf("the status's error does not show the line masked:\n%s", st)
	}
	for what, text := range map[string]string{"status": st, "log": r.log()} {
		if strings.Contains(text, "CLIENTSECRET_literal_222") {
			t.Errorf("the %s shows the client secret:\n%s", what, text)
		}
	}
}
