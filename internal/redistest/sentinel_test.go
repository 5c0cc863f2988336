package redistest

import (
	"context"
	"testing"
)

// A Replicated group is a real Sentinel group: a write to the primary reaches the
// replica, and a failover swaps their roles with the data.
func TestReplicated(t *testing.T) {
	g := NewReplicated(t, "hf")
	ctx := context.Background()
	if err := g.Nodes[0].Client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: the write must have reached the replica before the
	// failover for the new primary to have it.
	if n, err := g.Nodes[0].Client.Do(ctx, "WAIT", 1, 5000).Int64(); err != nil || n < 1 {
		t.Fatalf("the replica did not acknowledge the write: %d, %v", n, err)
	}
	from, to, err := g.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if from != g.Nodes[0].URL[len("redis://"):] || to != g.Nodes[1].URL[len("redis://"):] {
		t.Errorf("failover from %s to %s; want from the first node to the second", from, to)
	}
	if got, err := g.Nodes[1].Client.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("the new primary has %q, %v", got, err)
	}
	if err := g.Nodes[0].Client.Set(ctx, "k", "w", 0).Err(); err == nil {
		t.Error("the old primary still takes writes")
	}
}
