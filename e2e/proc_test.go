package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// proc is a hookflow process.
type proc struct {
	cmd    *exec.Cmd
	public string
	admin  string
	log    *testutil.LogBuffer
}

// startProc starts hookflow serve on the workflows in dir, with a 2s lease and 64
// workers, and waits until it is ready. api is the downstream API, in FAULT_API. Its
// log is printed when the test fails.
func startProc(t *testing.T, dir, redisURL, api string, extra ...string) *proc {
	t.Helper()
	return startProcUntil(t, "/readyz", dir, redisURL, api, extra...)
}

// startProcUntil is startProc, waiting until path on the admin listener answers 200:
// /healthz for a process that serves but is not ready.
// A port found free may be taken by another test before hookflow binds it: hookflow
// is then started again on other ports, twice at most.
func startProcUntil(t *testing.T, path, dir, redisURL, api string, extra ...string) *proc {
	t.Helper()
	for try := 1; ; try++ {
		p := launchProc(t, path, dir, redisURL, api, extra...)
		if try == 3 || !strings.Contains(p.log.String(), "address already in use") {
			p.ready(t, path)
			return p
		}
		p.kill()
	}
}

// launchProc starts hookflow as startProc does, and waits until path answers 200 or
// hookflow could not listen on a port it was given.
func launchProc(t *testing.T, path, dir, redisURL, api string, extra ...string) *proc {
	t.Helper()
	p := &proc{public: freeAddr(t), admin: freeAddr(t), log: &testutil.LogBuffer{}}
	args := append([]string{"serve", "--listen", p.public, "--admin", p.admin, "--redis", redisURL,
		"--allow-net", "127.0.0.1/32", "--lease", "2s", "--workers", "64"}, extra...)
	p.cmd = exec.Command(hookflowBinary(t), append(args, dir)...)
	p.cmd.Env = append(os.Environ(), "FAULT_API="+api)
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of hookflow on %s:\n%s", p.public, p.log)
		}
	})
	testutil.Eventually(t, 20*time.Second, "hookflow answering "+path+" on "+p.admin, func() bool {
		return strings.Contains(p.log.String(), "address already in use") || p.answers(path)
	})
	return p
}

// ready fails the test unless path on the admin listener answers 200.
func (p *proc) ready(t *testing.T, path string) {
	t.Helper()
	if !p.answers(path) {
		t.Fatalf("hookflow answering %s on %s: it does not", path, p.admin)
	}
}

// answers reports whether path on the admin listener answers 200.
func (p *proc) answers(path string) bool {
	resp, err := http.Get("http://" + p.admin + path)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL: no shutdown, no hand-back, leases left to expire.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// getJSON reads a JSON document from the admin API into v.
func (p *proc) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// metric returns the value of a sample of p's /metrics, named with its labels as
// Prometheus writes it, e.g. hookflow_events_rejected_total{reason="unavailable"}.
func (p *proc) metric(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics has no %s", sample)
	return 0
}

// waitLog waits until p's log says text: the log reaches the test through a pipe, a
// moment after the process writes it.
func (p *proc) waitLog(t *testing.T, text string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "the log says "+text, func() bool { return strings.Contains(p.log.String(), text) })
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeWorkflow writes src as name in a new directory and returns the directory.
func writeWorkflow(t *testing.T, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
