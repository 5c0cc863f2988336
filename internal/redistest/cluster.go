package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterShards is the queue shards a test on a cluster uses: enough that each of the
// three primaries holds several.
const ClusterShards = 8

// Cluster is a Redis Cluster of six redis-server processes on free ports of 127.0.0.1:
// three primaries, each with one replica. Nothing is saved to disk but the nodes'
// cluster configuration.
type Cluster struct {
	// Addrs are every node's host:port, in the order they were created: the first
	// three started as primaries.
	Addrs  []string
	dir    string
	server string
	// args are each node's redis-server arguments, by address, to restart it.
	args  map[string][]string
	mu    sync.Mutex
	procs map[string]*exec.Cmd
}

// NewCluster starts a cluster for the test and stops it when the test ends. It takes a
// few seconds: tests that need no cluster of their own use SharedCluster. nodeTimeout
// is the nodes' cluster-node-timeout, how long a primary is unreachable before its
// replica is elected in its place (0: 5s); a test that kills a primary wants a short
// one.
func NewCluster(t testing.TB, nodeTimeout time.Duration) *Backend {
	t.Helper()
	c, err := startCluster(t.TempDir(), nodeTimeout)
	if err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(c.Stop)
	return c.backend(t)
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the cluster of this test binary, emptied: it starts it at the
// first call. Its processes end with the test binary.
func SharedCluster(t testing.TB) *Backend {
	t.Helper()
	shared.once.Do(func() {
		removeStaleDirs()
		dir, err := os.MkdirTemp("", fmt.Sprintf("hookflow-cluster-%d-", os.Getpid()))
		if err != nil {
			shared.err = err
			return
		}
		shared.c, shared.err = startCluster(dir, 0)
	})
	if shared.err != nil {
		unavailable(t, shared.err.Error())
	}
	b := shared.c.backend(t)
	ctx := context.Background()
	err := b.Client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatalf("emptying the shared cluster: %v", err)
	}
	return b
}

// removeStaleDirs removes the directories of shared clusters of test binaries that
// are gone.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "hookflow-cluster-*-*"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), "hookflow-cluster-"), "-")
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			os.RemoveAll(d)
		}
	}
}

func (c *Cluster) backend(t testing.TB) *Backend {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return &Backend{Name: "cluster", URL: "redis://" + c.Addrs[0], Client: cc, Shards: ClusterShards, Cluster: c}
}

func startCluster(dir string, nodeTimeout time.Duration) (*Cluster, error) {
	if nodeTimeout <= 0 {
		nodeTimeout = 5 * time.Second
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (apt-get install redis-server)")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli is not installed (apt-get install redis-tools)")
	}
	c := &Cluster{dir: dir, server: server, args: map[string][]string{}, procs: map[string]*exec.Cmd{}}
	for range 6 {
		if err := c.startNode(nodeTimeout); err != nil {
			c.Stop()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, c.Addrs...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// startNode starts a node of the cluster on a free port and waits until it answers.
func (c *Cluster) startNode(nodeTimeout time.Duration) error {
	addr, err := c.launch(nodeTimeout)
	if err != nil {
		return err
	}
	c.Addrs = append(c.Addrs, addr)
	return nil
}

// Loner starts a redis-server with cluster mode on that is in no cluster, and returns
// its address; it is killed when the test ends. It answers CLUSTER SLOTS with an empty
// map, as a node removed from its cluster that keeps running does (redis-cli
// --cluster del-node, CLUSTER RESET).
func (c *Cluster) Loner(t testing.TB) string {
	t.Helper()
	addr, err := c.launch(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Kill(addr) })
	return addr
}

// launch starts a cluster-enabled redis-server on a free port and waits until it
// answers. A port found free may be taken before the node binds it (by another test's
// server, or as the local end of a connection, which takes its port from the same
// range): the node then exits, and is started again on another port.
func (c *Cluster) launch(nodeTimeout time.Duration) (string, error) {
	var last error
	for range 5 {
		port, err := pickPort()
		if err != nil {
			return "", err
		}
		nodeDir := filepath.Join(c.dir, strconv.Itoa(port))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c.mu.Lock()
		c.args[addr] = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", nodeDir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
			"--repl-diskless-sync-delay", "0", "--save", "", "--appendonly", "no", "--loglevel", "warning"}
		c.mu.Unlock()
		if err := c.start(addr); err != nil {
			return "", err
		}
		if err = pingWithin(addr, 5*time.Second); err == nil {
			return addr, nil
		}
		last = fmt.Errorf("redis-server on %s did not answer", addr)
		c.Kill(addr)
		c.mu.Lock()
		delete(c.args, addr)
		c.mu.Unlock()
	}
	return "", last
}

// WaitHealthy waits until every node's CLUSTER INFO says cluster_state:ok, every
// replica is in sync with its primary, and every node sees three primaries and three
// replicas.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, addr := range c.Addrs {
		var info string
		err := c.until(ctx, addr, func(n *redis.Client) bool {
			info = n.ClusterInfo(ctx).Val() + n.Info(ctx, "replication").Val() + "\n" + n.ClusterNodes(ctx).Val()
			if !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			if !strings.Contains(info, "role:master") && !strings.Contains(info, "master_link_status:up") {
				return false
			}
			nodes, err := nodesOf(ctx, n)
			if err != nil {
				return false
			}
			c.meetMissing(ctx, n, nodes)
			primaries, replicas := 0, 0
			for _, nd := range nodes {
				switch {
				case nd.failing:
				case nd.primary && len(nd.slots) > 0:
					primaries++
				case !nd.primary:
					replicas++
				}
			}
			return primaries == 3 && replicas == 3
		})
		if err != nil {
			return fmt.Errorf("cluster node %s did not become healthy: %v\n%s", addr, err, info)
		}
	}
	return nil
}

// meetMissing introduces node n to the cluster's nodes it does not know, as redis-cli
// --cluster fix would: a handshake between two nodes is dropped after the node timeout
// (a second in some tests), which a machine under load can miss, and gossip does not
// always bring the node back.
func (c *Cluster) meetMissing(ctx context.Context, n *redis.Client, nodes []clusterNode) {
	known := map[string]bool{n.Options().Addr: true}
	for _, nd := range nodes {
		known[nd.addr] = true
	}
	for _, addr := range c.Addrs {
		if known[addr] {
			continue
		}
		if host, port, err := net.SplitHostPort(addr); err == nil {
			_ = n.Do(ctx, "CLUSTER", "MEET", host, port).Err() // refused while a handshake is under way
		}
	}
}

// until polls node addr until ok holds or ctx ends.
func (c *Cluster) until(ctx context.Context, addr string, ok func(*redis.Client) bool) error {
	n := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer n.Close()
	for !ok(n) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // another process's state; nothing to select on
		}
	}
	return nil
}

// Node returns a client of one node, closed when the test ends.
func (c *Cluster) Node(t testing.TB, addr string) *redis.Client {
	n := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Failover makes the replica of the primary holding key take its place, with CLUSTER
// FAILOVER (the replica catches up with its primary first: no acknowledged write is
// lost), and waits until the cluster is healthy again. It returns the old primary's
// and the new one's addresses.
func (c *Cluster) Failover(ctx context.Context, key string) (from, to string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	nodes, err := c.nodes(ctx)
	if err != nil {
		return "", "", err
	}
	n := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer n.Close()
	slot, err := n.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", "", err
	}
	var primary clusterNode
	for _, nd := range nodes {
		if nd.primary && nd.holds(int(slot)) {
			primary = nd
		}
	}
	for _, nd := range nodes {
		if !nd.primary && nd.primaryID == primary.id {
			r := redis.NewClient(&redis.Options{Addr: nd.addr})
			defer r.Close()
			if err := r.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
				return "", "", fmt.Errorf("CLUSTER FAILOVER on %s: %w", nd.addr, err)
			}
			err := c.until(ctx, nd.addr, func(n *redis.Client) bool {
				info, _ := n.Info(ctx, "replication").Result()
				return strings.Contains(info, "role:master")
			})
			if err != nil {
				return "", "", fmt.Errorf("replica %s did not become primary: %w", nd.addr, err)
			}
			return primary.addr, nd.addr, c.WaitHealthy(ctx)
		}
	}
	return "", "", fmt.Errorf("no replica of the primary of slot %d", slot)
}

type clusterNode struct {
	id, addr, primaryID string
	primary, failing    bool
	slots               [][2]int
}

func (n clusterNode) holds(slot int) bool {
	for _, r := range n.slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// nodes parses CLUSTER NODES as the first node sees it.
func (c *Cluster) nodes(ctx context.Context) ([]clusterNode, error) {
	n := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer n.Close()
	return nodesOf(ctx, n)
}

func nodesOf(ctx context.Context, n *redis.Client) ([]clusterNode, error) {
	text, err := n.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		nd := clusterNode{id: f[0], addr: addr, primaryID: f[3], primary: strings.Contains(f[2], "master"),
			failing: strings.Contains(f[2], "fail") || strings.Contains(f[2], "handshake") || f[7] != "connected"}
		for _, s := range f[8:] {
			lo, hi, found := strings.Cut(s, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if found {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil {
				nd.slots = append(nd.slots, [2]int{a, b})
			}
		}
		out = append(out, nd)
	}
	return out, nil
}

// start starts the node of addr.
func (c *Cluster) start(addr string) error {
	c.mu.Lock()
	args := c.args[addr]
	c.mu.Unlock()
	cmd := exec.Command(c.server, args...)
	cmd.Stderr = os.Stderr
	if err := startChild(cmd); err != nil {
		return fmt.Errorf("starting redis-server on %s: %v", addr, err)
	}
	c.mu.Lock()
	c.procs[addr] = cmd
	c.mu.Unlock()
	return nil
}

// Kill kills the node of addr with SIGKILL: no shutdown, nothing saved, its clients'
// connections reset.
func (c *Cluster) Kill(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[addr]; p != nil {
		_ = p.Process.Kill()
		_ = p.Wait()
		delete(c.procs, addr)
	}
}

// Restart starts the killed node of addr again, on its port and cluster configuration:
// it rejoins the cluster, as a replica of whichever node took its slots.
func (c *Cluster) Restart(ctx context.Context, addr string) error {
	if err := c.start(addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.until(ctx, addr, func(n *redis.Client) bool { return n.Ping(ctx).Err() == nil })
}

// PrimaryOf returns the address of the primary serving key's slot, as the first node
// not in but sees it.
func (c *Cluster) PrimaryOf(ctx context.Context, key string, but ...string) (string, error) {
	for _, addr := range c.Addrs {
		if slices.Contains(but, addr) {
			continue
		}
		n := redis.NewClient(&redis.Options{Addr: addr})
		defer n.Close()
		return servingPrimary(ctx, n, key)
	}
	return "", errors.New("no node left to ask")
}

// servingPrimary returns the address of the live primary that n says serves key's slot.
func servingPrimary(ctx context.Context, n *redis.Client, key string) (string, error) {
	slot, err := n.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	nodes, err := nodesOf(ctx, n)
	if err != nil {
		return "", err
	}
	for _, nd := range nodes {
		if nd.primary && !nd.failing && nd.holds(int(slot)) {
			return nd.addr, nil
		}
	}
	return "", fmt.Errorf("no live primary serves slot %d", slot)
}

// ReplicaOf returns the address of a replica of the primary at addr, as the first
// node sees it.
func (c *Cluster) ReplicaOf(ctx context.Context, primary string) (string, error) {
	nodes, err := c.nodes(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range nodes {
		if p.addr != primary {
			continue
		}
		for _, r := range nodes {
			if !r.primary && r.primaryID == p.id {
				return r.addr, nil
			}
		}
	}
	return "", fmt.Errorf("no replica of %s", primary)
}

// WaitPromoted waits, after the primary old of key's slot was killed, until every
// other node says the cluster is ok and names the same live primary of the slot in
// old's place, and returns that primary's address.
func (c *Cluster) WaitPromoted(ctx context.Context, key, old string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var primary string
	for _, addr := range c.Addrs {
		if addr == old {
			continue
		}
		err := c.until(ctx, addr, func(n *redis.Client) bool {
			if !strings.Contains(n.ClusterInfo(ctx).Val(), "cluster_state:ok") {
				return false
			}
			p, err := servingPrimary(ctx, n, key)
			if err != nil || p == old || primary != "" && p != primary {
				return false
			}
			primary = p
			return true
		})
		if err != nil {
			return "", fmt.Errorf("no replica took the place of %s as %s sees it: %w", old, addr, err)
		}
	}
	return primary, nil
}

// Stop kills every node.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, p := range c.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
		delete(c.procs, addr)
	}
}

// pickPort picks the port of a redis-server a test starts; a test replaces it to hand
// out a taken one.
var pickPort = freePortErr

func freePortErr() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
