package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// rssKiB is a process's resident memory, from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no /proc to read memory from: %v", err)
		}
		t.Skipf("no /proc here: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A flood of connections, each an upload of 900 KiB left unfinished, past --max-conns:
// hookflow's memory stays near its cap on bodies in progress (32 MiB) rather than
// growing with the uploads (100 of them took 177 MB before there was one; 300 take
// 230 MB without the cap), and a request that comes meanwhile is answered (202, or 503
// with Retry-After), not left hanging.
func TestFloodOfSlowUploadsKeepsMemoryCapped(t *testing.T) {
	b := redistest.Real(t)
	api := testutil.NewSink(t, 0)
	p := startProc(t, testutil.WriteRelay(t), b.URL, api.URL, "--max-conns", "150")
	pid := p.cmd.Process.Pid
	before := rssKiB(t, pid)

	const uploads, size = 300, 900 << 10
	chunk := []byte(`{"n": "` + strings.Repeat("x", 64<<10))
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range uploads {
		c, err := net.Dial("tcp", p.public)
		if err != nil {
			continue // refused past what the kernel queues: fine
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /hooks/relay HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", p.public, size)
	}
	// Most of each body, never the end.
	for sent := 0; sent+len(chunk) < size-1024; sent += len(chunk) {
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			c.Write(chunk)
		}
	}
	// The process reads what the kernel buffered for it: take the most it holds.
	peak := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		peak = max(peak, rssKiB(t, pid))
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post("http://"+p.public+"/hooks/relay", "application/json", strings.NewReader(`{"n": 1}`))
	if err != nil {
		t.Fatalf("a request during the flood got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusAccepted {
		t.Errorf("a request during the flood: %d", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	grew := (peak - before) / 1024
	t.Logf("RSS %d MiB before, %d MiB with %d unfinished uploads of 900 KiB; a request during it: %d",
		before/1024, peak/1024, len(conns), resp.StatusCode)
	if grew > 64 {
		t.Errorf("RSS grew by %d MiB with the uploads; the cap on bodies in progress is 32 MiB", grew)
	}
}
