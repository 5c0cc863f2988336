package redistest

import (
	"context"
	"fmt"
	"net"
	"testing"
)

// The cluster backend is a real cluster: three primaries share the slots, a command on
// a key of another node's slot is redirected, and a failover moves a primary's slots
// to its replica with the data.
func TestCluster(t *testing.T) {
	b := NewCluster(t, 0)
	ctx := context.Background()
	nodes, err := b.Cluster.nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	primaries := 0
	for _, n := range nodes {
		if n.primary && len(n.slots) > 0 {
			primaries++
		}
	}
	if len(nodes) != 6 || primaries != 3 {
		t.Fatalf("%d nodes, %d primaries with slots; want 6 and 3", len(nodes), primaries)
	}
	for i := range 16 {
		if err := b.Client.Set(ctx, fmt.Sprintf("{k%d}", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(b.Keys(ctx, "*")); n != 16 {
		t.Errorf("Keys found %d keys on the primaries, want 16", n)
	}
	moved := b.Cluster.Node(t, b.Cluster.Addrs[0]).MSet(ctx, "{k1}", 1, "{k2}", 2).Err()
	if moved == nil {
		t.Error("a cross-slot MSET was accepted")
	}
	from, to, err := b.Cluster.Failover(ctx, "{k3}")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Cluster.Node(t, to).Get(ctx, "{k3}").Result(); err != nil || got != "3" {
		t.Errorf("after the failover from %s to %s, the new primary has %q, %v", from, to, got, err)
	}
}

// A node whose port was taken between being found free and being bound starts again on
// another port; so does a single redis-server.
func TestServersOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	handed := false
	pickPort = func() (int, error) {
		if !handed {
			handed = true
			return taken.Addr().(*net.TCPAddr).Port, nil
		}
		return freePortErr()
	}
	defer func() { pickPort = freePortErr }()
	b := NewCluster(t, 0)
	if len(b.Cluster.Addrs) != 6 || !handed {
		t.Fatalf("nodes %v (the taken port handed out: %v)", b.Cluster.Addrs, handed)
	}
	for _, addr := range b.Cluster.Addrs {
		if addr == taken.Addr().String() {
			t.Errorf("a node on the taken port %s", addr)
		}
	}
	if err := b.Client.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	handed = false
	r := Real(t)
	if !handed || r.URL == "redis://"+taken.Addr().String() {
		t.Errorf("a redis-server at %s (the taken port handed out: %v)", r.URL, handed)
	}
	if err := r.Client.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}
