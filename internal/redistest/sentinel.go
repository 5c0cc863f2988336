package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// WithReplica starts a primary and its replica, redis-server processes on free ports
// with nothing saved to disk, and waits until the replica has caught up.
func WithReplica(t testing.TB) (primary, replica *Backend) {
	t.Helper()
	// The primary sends its data to a new replica over the socket, at once (not after
	// the 5s of waiting for more replicas that Redis does by default).
	primary = startReal(t, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
	return primary, Replica(t, primary)
}

// Replica starts a redis-server on a free port replicating primary, and waits until
// it has caught up with it.
func Replica(t testing.TB, primary *Backend) *Backend {
	t.Helper()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(primary.URL, "redis://"))
	r := startReal(t, "--save", "", "--appendonly", "no", "--replicaof", host, port, "--repl-diskless-sync-delay", "0")
	r.Name = "replica"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !strings.Contains(r.Client.Info(ctx, "replication").Val(), "master_link_status:up") {
		select {
		case <-ctx.Done():
			unavailable(t, "the replica of "+primary.URL+" did not catch up")
		case <-time.After(20 * time.Millisecond): // another process's state; nothing to select on
		}
	}
	return r
}

// Sentinel starts a redis-server in Sentinel mode on a free port, monitoring the
// primary at addr under name (quorum 1, down after 1s) and knowing its replicas from
// the start, and returns its address.
func Sentinel(t testing.TB, name, addr string, replicas ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed (apt-get install redis-server)")
	}
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	sp := freePort(t)
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %[3]s %[4]s %[5]s 1\n"+
		"sentinel down-after-milliseconds %[3]s 1000\nsentinel failover-timeout %[3]s 10000\n", sp, dir, name, host, port)
	for _, r := range replicas {
		rhost, rport, _ := net.SplitHostPort(r)
		text += fmt.Sprintf("sentinel known-replica %s %s %s\n", name, rhost, rport)
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("starting redis-server --sentinel: %v", err))
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	saddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sp))
	s := redis.NewSentinelClient(&redis.Options{Addr: saddr})
	defer s.Close()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.GetMasterAddrByName(ctx, name).Result()
		if err == nil && len(got) == 2 && got[1] == port {
			// A Sentinel asks its primary and replicas for INFO every 10s, and so learns
			// late that a replica was promoted or an old primary came back: every 0.5s
			// here. It turns an old primary into a replica 4 publish periods (8s) after
			// it reappears: 1s here. A Sentinel whose timer lags (a busy machine) waits
			// 30s in TILT mode before acting: 5s here.
			err := s.Process(ctx, redis.NewStatusCmd(ctx, "SENTINEL", "DEBUG", "info-period", 500,
				"publish-period", 250, "tilt-period", 5000))
			if err != nil {
				t.Fatalf("SENTINEL DEBUG on %s: %v", saddr, err)
			}
			return saddr
		}
		if time.Now().After(deadline) {
			unavailable(t, fmt.Sprintf("Sentinel on %s does not name %s: %v %v", saddr, name, got, err))
		}
		time.Sleep(20 * time.Millisecond) // waiting for another process to boot; nothing to select on
	}
}

// Replicated is a primary and its replica, redis-server processes on free ports, with a
// Sentinel that manages them.
type Replicated struct {
	Name     string
	Sentinel string // the Sentinel's host:port
	// URL names the primary through the Sentinel, in the form hookflow's --redis takes.
	URL string
	// Nodes are the primary and the replica as started; a failover swaps their roles.
	Nodes [2]*Backend
}

// NewReplicated starts a primary, its replica and a Sentinel for the test, and waits
// until the Sentinel knows the replica.
func NewReplicated(t testing.TB, name string) *Replicated {
	t.Helper()
	primary, replica := WithReplica(t)
	addr := strings.TrimPrefix(primary.URL, "redis://")
	g := &Replicated{Name: name, Sentinel: Sentinel(t, name, addr, strings.TrimPrefix(replica.URL, "redis://")),
		Nodes: [2]*Backend{primary, replica}}
	g.URL = "redis+sentinel://" + g.Sentinel + "/" + name + "/0"
	s := redis.NewSentinelClient(&redis.Options{Addr: g.Sentinel})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		replicas, err := s.Replicas(ctx, name).Result()
		if err == nil && len(replicas) == 1 && !strings.Contains(replicas[0]["flags"], "down") {
			return g
		}
		select {
		case <-ctx.Done():
			unavailable(t, fmt.Sprintf("Sentinel %s does not see the replica of %s: %v %v", g.Sentinel, name, replicas, err))
		case <-time.After(50 * time.Millisecond): // another process's state; nothing to select on
		}
	}
}

// Primary returns the address the Sentinel names as the primary.
func (g *Replicated) Primary(ctx context.Context) (string, error) {
	s := redis.NewSentinelClient(&redis.Options{Addr: g.Sentinel})
	defer s.Close()
	got, err := s.GetMasterAddrByName(ctx, g.Name).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(got[0], got[1]), nil
}

// Failover asks the Sentinel to promote the replica (SENTINEL FAILOVER), and waits
// until the Sentinel names it, it says it is the primary, and the old primary
// replicates it. It returns the old primary's address and the new one's.
func (g *Replicated) Failover(ctx context.Context) (from, to string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if from, err = g.Primary(ctx); err != nil {
		return "", "", err
	}
	s := redis.NewSentinelClient(&redis.Options{Addr: g.Sentinel})
	defer s.Close()
	if err := s.Failover(ctx, g.Name).Err(); err != nil {
		return "", "", fmt.Errorf("SENTINEL FAILOVER %s: %w", g.Name, err)
	}
	for {
		to, err = g.Primary(ctx)
		if err == nil && to != from && g.Node(to).roleIs(ctx, "role:master") && g.Node(from).roleIs(ctx, "master_link_status:up") {
			return from, to, nil
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("the failover from %s did not complete: the Sentinel names %s (%v)", from, to, ctx.Err())
		case <-time.After(50 * time.Millisecond): // other processes' state; nothing to select on
		}
	}
}

// Node returns the node of addr, nil if addr is none of them.
func (g *Replicated) Node(addr string) *Backend {
	for _, n := range g.Nodes {
		if strings.TrimPrefix(n.URL, "redis://") == addr {
			return n
		}
	}
	return nil
}

func (b *Backend) roleIs(ctx context.Context, want string) bool {
	return b != nil && strings.Contains(b.Client.Info(ctx, "replication").Val(), want)
}
