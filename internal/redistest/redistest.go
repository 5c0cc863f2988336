// Package redistest gives tests a Redis: the embedded miniredis, a real redis-server
// started by the test on a free port, or a Redis Cluster of six of them. Tests that need
// a real server skip when there is none, except under CI (CI=true), where they fail: CI
// must never pass by skipping.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/embedredis"
)

// Backend is a Redis for a test: its URL and a client on it.
type Backend struct {
	Name   string
	URL    string
	Client redis.UniversalClient
	// Shards is the number of queue shards a test on this backend should use: 0 (the
	// engine's default, one) on a single Redis; on a cluster, enough for every primary
	// to hold some.
	Shards int
	// Cluster is the cluster's nodes, nil for a single Redis.
	Cluster *Cluster
	// Stop stops the server, to test what happens while Redis is down.
	Stop func()
	// Restart kills a real server and starts it again on the same port and data
	// (nil for miniredis).
	Restart func()
	// Pause stops a real server's process (SIGSTOP) until Resume: it holds its
	// connections and answers nothing (nil for miniredis).
	Pause, Resume func()
	// Dir is a real server's data directory (its AOF, with Durable); "" for miniredis.
	Dir string
	// Mini is the embedded server, nil for a real one: tests move its clock.
	Mini *embedredis.Redis
	// TLSAddr is the host:port of the TLS port of a server started by TLS, "" for
	// others.
	TLSAddr string
}

// Each runs f once against miniredis and once against a real redis-server.
func Each(t *testing.T, f func(t *testing.T, b *Backend)) {
	t.Run("miniredis", func(t *testing.T) { f(t, Mini(t)) })
	t.Run("redis-server", func(t *testing.T) { f(t, Real(t)) })
}

// EachWithCluster runs f as Each does, and once more against a Redis Cluster of three
// primaries and three replicas (one per test binary, emptied for each test).
func EachWithCluster(t *testing.T, f func(t *testing.T, b *Backend)) {
	Each(t, f)
	t.Run("cluster", func(t *testing.T) { f(t, SharedCluster(t)) })
}

// Keys returns the keys matching pattern on every primary: for a test's checks of what
// a backend holds (hookflow itself never lists keys).
func (b *Backend) Keys(ctx context.Context, pattern string) []string {
	cc, ok := b.Client.(*redis.ClusterClient)
	if !ok {
		return b.Client.Keys(ctx, pattern).Val()
	}
	var mu sync.Mutex
	var all []string
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys := c.Keys(ctx, pattern).Val()
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return nil
	})
	return all
}

// Mini starts an embedded miniredis for the test.
func Mini(t testing.TB) *Backend {
	t.Helper()
	m, err := embedredis.Start()
	if err != nil {
		t.Fatalf("starting miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	// Through the in-memory pipe, as serve's own client connects to it; URL still names
	// its TCP listener.
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), Dialer: m.Dial})
	t.Cleanup(func() { _ = c.Close() })
	b := &Backend{Name: "miniredis", URL: "redis://" + m.Addr(), Client: c}
	b.Stop, b.Mini = m.Close, m
	return b
}

// Real starts a redis-server on a free port for the test, with nothing saved to disk.
//
// With HOOKFLOW_BENCH_REDIS=host:port, it uses that server instead, and flushes it
// first: for benchmarks against one long-lived server (docs/performance.md). Never
// point it at a Redis whose data you keep.
func Real(t testing.TB) *Backend {
	t.Helper()
	if addr := os.Getenv("HOOKFLOW_BENCH_REDIS"); addr != "" {
		b := backend(t, "redis-server", addr)
		if err := b.Client.FlushAll(context.Background()).Err(); err != nil {
			t.Fatalf("HOOKFLOW_BENCH_REDIS=%s: %v", addr, err)
		}
		return b
	}
	return startReal(t, "--save", "", "--appendonly", "no")
}

// Durable starts a redis-server that appends every write to its AOF and fsyncs it
// before answering (appendfsync always), as a deployment that must lose no accepted
// event across a Redis crash runs it. Restart kills it (SIGKILL) and starts it again
// on the same port and files.
func Durable(t testing.TB) *Backend {
	t.Helper()
	return startReal(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
}

func startReal(t testing.TB, persistence ...string) *Backend {
	t.Helper()
	return startServer(t, func() ([]string, error) { return persistence, nil })
}

// TLSFiles are the PEM files of a server started by TLS: its certificate and key,
// and the certificate authority its clients' certificates must be signed by.
type TLSFiles struct{ Cert, Key, CA string }

// TLS starts a redis-server with nothing saved to disk that listens both without TLS
// (URL) and with it (TLSAddr), on free ports, and requires a client certificate signed
// by files.CA on the latter (tls-auth-clients yes, Redis's default).
func TLS(t testing.TB, files TLSFiles) *Backend {
	t.Helper()
	var tlsPort int
	b := startServer(t, func() ([]string, error) {
		var err error
		tlsPort, err = pickPort()
		return []string{"--save", "", "--appendonly", "no", "--tls-port", strconv.Itoa(tlsPort),
			"--tls-cert-file", files.Cert, "--tls-key-file", files.Key, "--tls-ca-cert-file", files.CA,
			"--tls-auth-clients", "yes"}, err
	})
	b.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	return b
}

// startServer starts a redis-server on a free port with the arguments that more gives
// each try.
func startServer(t testing.TB, more func() ([]string, error)) *Backend {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed (apt-get install redis-server)")
	}
	dir := t.TempDir()
	var args []string
	var mu sync.Mutex
	var cmd *exec.Cmd
	start := func() {
		mu.Lock()
		defer mu.Unlock()
		cmd = exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			unavailable(t, fmt.Sprintf("starting redis-server: %v", err))
		}
	}
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	signal := func(stop bool) {
		mu.Lock()
		defer mu.Unlock()
		if cmd != nil {
			if err := pause(cmd.Process, stop); err != nil {
				t.Errorf("pausing redis-server: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	t.Cleanup(func() { signal(false) }) // a paused process dies only once it runs on
	// A port found free may be taken before the server binds it (by another test's
	// server, or as the local end of a connection): the server then exits, and is
	// started again on another port.
	var addr string
	for try := 1; ; try++ {
		port, err := pickPort()
		if err != nil {
			t.Fatal(err)
		}
		extra, err := more()
		if err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--loglevel", "warning"}, extra...)
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		start()
		if pingWithin(addr, 5*time.Second) == nil {
			break
		}
		stop()
		if try == 5 {
			unavailable(t, fmt.Sprintf("redis-server did not answer on five ports, the last %s", addr))
		}
	}
	b := backend(t, "redis-server", addr)
	b.Stop, b.Dir = stop, dir
	b.Pause, b.Resume = func() { signal(true) }, func() { signal(false) }
	b.Restart = func() {
		stop()
		start()
		waitReady(t, addr)
	}
	return b
}

// pingWithin pings addr until it answers or d has passed.
func pingWithin(addr string, d time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(d)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // waiting for another process to boot; nothing to select on
	}
}

func waitReady(t testing.TB, addr string) {
	t.Helper()
	if err := pingWithin(addr, 10*time.Second); err != nil {
		unavailable(t, fmt.Sprintf("redis-server on %s did not answer: %v", addr, err))
	}
}

func backend(t testing.TB, name, addr string) *Backend {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return &Backend{Name: name, URL: "redis://" + addr, Client: c}
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("a real Redis is required under CI: %s", why)
	}
	t.Skipf("no real Redis: %s (set CI=true to make this a failure)", why)
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := freePortErr()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Fill fills a real server's memory past a maxmemory with noeviction, which it sets:
// every write is refused with OOM until the filler key is deleted (DEL filler), or the
// test ends, which lifts the maxmemory.
func (b *Backend) Fill(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if err := b.Client.Set(ctx, "filler", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	var mem int64
	for _, line := range strings.Split(b.Client.Info(ctx, "memory").Val(), "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			fmt.Sscan(v, &mem)
		}
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", fmt.Sprint(mem - 256<<10)}} {
		if err := b.Client.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { b.Client.ConfigSet(ctx, "maxmemory", "0") })
}
