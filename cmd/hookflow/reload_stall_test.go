package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// statusWithin reads GET /api/v1/status's config, or nil when it does not answer
// within d.
func statusWithin(addr string, d time.Duration) map[string]any {
	c := &http.Client{Timeout: d}
	resp, err := c.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out struct{ Config map[string]any }
	if json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil
	}
	return out.Config
}

// stallReads makes r's reads of the files wait until release is closed; entered is
// closed once one waits.
func stallReads(r *reloader) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readDir = func(dir string) ([]workflows.Source, hcl.Diagnostics) {
		once.Do(func() { close(entered) })
		<-release
		return workflows.ReadDir(dir)
	}
	return entered, release
}

// A reload whose read of the files takes long (a file on a stalled network mount)
// holds up neither the status nor the stop: GET /api/v1/status answers with the last
// reload's outcome, and a stop asked for meanwhile (a SIGHUP's reload under way)
// finishes. The reload, once read, puts nothing in use.
func TestReloadReadingHoldsUpNeitherStatusNorStop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	logs := &syncWriter{w: &strings.Builder{}}
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)), logs)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := stallReads(s.config)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b"))

	ctx, stop := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- s.run(ctx, hup) }()
	hup <- syscall.SIGHUP
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP did not reload")
	}

	if st := statusWithin(s.adminAddr, 2*time.Second); st == nil || st["ok"] != true || st["workflows"] != float64(1) {
		t.Errorf("status while a reload reads the files: %v, want the last one's, at once", st)
	}
	stop()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stop waits for the reload reading the files")
	}

	close(release)
	s.config.mu.Lock() // the reload is over
	s.config.mu.Unlock()
	if s.config.set.Load().Workflow("b") != nil {
		t.Error("the reload put its set in use after the stop")
	}
	if st := s.config.Status(); st.Workflows != 1 {
		t.Errorf("status after the stop: %+v", st)
	}
}
