package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The slot of a key is the one Redis gives it, with or without a hash tag.
func TestSlotOfIsClusterKeySlot(t *testing.T) {
	if got := slotOf("123456789"); got != 12739 {
		t.Errorf("slotOf(123456789) = %d, want 12739 (CRC16/XMODEM 0x31C3)", got)
	}
	b := redistest.SharedCluster(t)
	ctx := context.Background()
	keys := []string{"", "a", "{}", "{}x", "a{b}c", "{a}{b}", "x{", "hf:src:abc", "hf:ver:order@1"}
	for i := range 64 {
		keys = append(keys, newShard(i).prefix+"due")
	}
	for _, k := range keys {
		want, err := b.Client.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := slotOf(k); got != int(want) {
			t.Errorf("slotOf(%q) = %d, CLUSTER KEYSLOT says %d", k, got, want)
		}
	}
}

// A node that left the cluster and keeps running (redis-cli --cluster del-node,
// CLUSTER RESET) answers CLUSTER SLOTS with an empty map. Known to hookflow, as a seed
// here, it does not make the cluster look down, whichever node the Redis client takes
// its slot map from.
func TestReadyWhileANodeThatLeftAnswersAnEmptyMap(t *testing.T) {
	b := redistest.SharedCluster(t)
	loner := b.Cluster.Loner(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: append([]string{loner}, b.Cluster.Addrs...)})
	t.Cleanup(func() { _ = cc.Close() })
	p := newClusterProbe(cc, b.Shards)
	for i := range 50 { // the Redis client asks one of its 7 known nodes at random
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		n, err := p.probe(ctx)
		cancel()
		if n != 3 || err != nil {
			t.Fatalf("probe %d: %d primaries, %v; want 3, ready", i, n, err)
		}
	}
}

// A seed node that holds its connection and answers nothing (stopped, its disk
// stalled) while the cluster has failed it over does not hold up the probe: it
// answers within two nodeTimeouts, ready, well within /readyz's time.
func TestReadyWhileASeedHangs(t *testing.T) {
	b := redistest.SharedCluster(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: append([]string{ln.Addr().String()}, b.Cluster.Addrs...)})
	t.Cleanup(func() { _ = cc.Close() })
	p := newClusterProbe(cc, b.Shards)
	// Each probe has less time than one of its own has, as /readyz gives its check.
	// On a machine busy with other tests, the healthy nodes too may take longer than
	// nodeTimeout now and then: a probe that fails is asked again, and three in a row
	// must come out ready. A seed that held the probe up would fail every one.
	for i := range 3 {
		for deadline := time.Now().Add(30 * time.Second); ; {
			ctx, cancel := context.WithTimeout(context.Background(), healthTimeout*3/4)
			n, err := p.probe(ctx)
			cancel()
			if n == 3 && err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe %d: %d primaries, %v; want 3, ready", i, n, err)
			}
		}
	}
}

// With cluster-require-full-coverage no, a cluster says cluster_state:ok while a slot
// has no primary, and refuses the commands of that slot; while a slot is being moved,
// it answers ASK or TRYAGAIN, which hookflow does not follow. The shard of such a slot
// is not ready, named; once its slot is back on its primary and stable, it is ready
// again.
func TestReadyNamesAShardItsClusterDoesNotServe(t *testing.T) {
	b := redistest.NewCluster(t, 0)
	ctx := context.Background()
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet})
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("a healthy cluster: %v", err)
	}
	const shard = 4
	slot := slotOf(newShard(shard).prefix)
	owner, err := b.Cluster.PrimaryOf(ctx, newShard(shard).prefix)
	if err != nil {
		t.Fatal(err)
	}
	var other string
	for _, s := range []int{0, 1, 2, 3, 5, 6, 7} {
		if p, err := b.Cluster.PrimaryOf(ctx, newShard(s).prefix); err == nil && p != owner {
			other = p
		}
	}
	ownerID := b.Cluster.Node(t, owner).ClusterMyID(ctx).Val()
	otherID := b.Cluster.Node(t, other).ClusterMyID(ctx).Val()
	do := func(addr string, args ...any) {
		t.Helper()
		if err := b.Cluster.Node(t, addr).Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", args, addr, err)
		}
	}
	notReady := func(what, want string) {
		t.Helper()
		var why error
		testutil.Eventually(t, 10*time.Second, what, func() bool {
			why = e.Ping(ctx)
			return why != nil && strings.Contains(why.Error(), want)
		})
		t.Logf("%s: %v", what, why)
		if st, err := e.Redis(ctx); err == nil || st.State != "unreachable" || st.Primaries != 3 {
			t.Errorf("%s: status %+v, %v", what, st, err)
		}
	}
	ready := func(what string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() bool { return e.Ping(ctx) == nil })
	}

	for _, addr := range b.Cluster.Addrs {
		do(addr, "CONFIG", "SET", "cluster-require-full-coverage", "no")
		do(addr, "CLUSTER", "DELSLOTS", slot)
	}
	notReady("the slot unassigned", fmt.Sprintf("the Redis Cluster does not serve every shard: shard {hf:4} (slot %d) has no primary", slot))
	do(owner, "CLUSTER", "ADDSLOTS", slot)
	ready("the slot assigned again")

	// A reshard sets the slot importing on its new node, then migrating on its owner.
	do(other, "CLUSTER", "SETSLOT", slot, "IMPORTING", ownerID)
	do(owner, "CLUSTER", "SETSLOT", slot, "MIGRATING", otherID)
	notReady("the slot migrating", fmt.Sprintf("shard {hf:4} (slot %d) is being moved from %s to %s", slot, owner, other))
	do(owner, "CLUSTER", "SETSLOT", slot, "STABLE")
	ready("the slot no longer migrating")
	if st, err := e.Redis(ctx); err != nil || st.State != "ok" {
		t.Errorf("the slot importing on %s and not migrating, the status is %+v, %v; want ok: its owner serves it", other, st, err)
	}
}

// The probe judges a cluster by the slot map of the node that gives the most shards a
// primary, and names each primary that does not answer or says the cluster is not ok,
// then each shard whose slot has no primary or is being moved, from answers recorded
// from Redis 7.
func TestJudgeClusterFromRecordedAnswers(t *testing.T) {
	const (
		a, b, c, gone = "10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002", "10.0.0.9:7009"
		idA, idB, idC = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
	)
	shardSlots := []int{100, 6000, 12000} // {hf:0} on a, {hf:1} on b, {hf:2} on c
	full := []redis.ClusterSlot{
		{Start: 0, End: 5460, Nodes: []redis.ClusterNode{{Addr: a}}},
		{Start: 5461, End: 10922, Nodes: []redis.ClusterNode{{Addr: b}}},
		{Start: 10923, End: 16383, Nodes: []redis.ClusterNode{{Addr: c}}},
	}
	without := func(lo, hi int) []redis.ClusterSlot { // full, with slots lo-hi of b's unassigned
		return []redis.ClusterSlot{full[0],
			{Start: 5461, End: lo - 1, Nodes: []redis.ClusterNode{{Addr: b}}},
			{Start: hi + 1, End: 10922, Nodes: []redis.ClusterNode{{Addr: b}}}, full[2]}
	}
	nodes := func(me, extra string) string { // CLUSTER NODES as the node of id me says it
		var lines []string
		for _, n := range []struct{ id, addr, slots string }{{idA, a, "0-5460"}, {idB, b, "5461-10922"}, {idC, c, "10923-16383"}} {
			flags := "master"
			if n.id == me {
				flags = "myself,master"
				if extra != "" {
					n.slots += " " + extra
				}
			}
			lines = append(lines, fmt.Sprintf("%s %s@1%s %s - 0 1700000000000 1 connected %s", n.id, n.addr, n.addr[len(n.addr)-4:], flags, n.slots))
		}
		return strings.Join(lines, "\n") + "\n"
	}
	ok := "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\n"
	fail := "cluster_enabled:1\r\ncluster_state:fail\r\n"
	healthy := func() map[string]nodeAnswer {
		return map[string]nodeAnswer{a: {slots: full, info: ok, nodes: nodes(idA, "")},
			b: {slots: full, info: ok, nodes: nodes(idB, "")}, c: {slots: full, info: ok, nodes: nodes(idC, "")}}
	}
	with := func(m map[string]nodeAnswer, addr string, ans nodeAnswer) map[string]nodeAnswer {
		m[addr] = ans
		return m
	}
	refused := errors.New("dial tcp 10.0.0.2:7001: connect: connection refused")
	for _, tc := range []struct {
		name      string
		answers   map[string]nodeAnswer
		primaries int
		err       string // "": ready
	}{
		{"healthy", healthy(), 3, ""},
		{"a node that left answers an empty map", with(healthy(), gone, nodeAnswer{info: fail, nodes: "aaaa 10.0.0.9:7009@17009 myself,master - 0 0 0 connected\n"}), 3, ""},
		{"a node with an old map missing a range", with(healthy(), gone, nodeAnswer{slots: without(5461, 7000), info: ok}), 3, ""},
		{"every node answers an empty map", map[string]nodeAnswer{gone: {info: fail}, a: {info: fail}}, 0,
			"the Redis Cluster is unreachable: its slot map has no primary"},
		{"no node answers", map[string]nodeAnswer{a: {err: refused}, b: {err: errNoAnswer}}, 0,
			"the Redis Cluster is unreachable: reading its slot map: 10.0.0.1:7000: dial tcp 10.0.0.2:7001: connect: connection refused; 1 more did not answer within 500ms"},
		{"no node answers in time", map[string]nodeAnswer{a: {err: errNoAnswer}}, 0,
			"the Redis Cluster is unreachable: no node gave its slot map within 500ms"},
		{"a shard's slot unassigned", map[string]nodeAnswer{a: {slots: without(5500, 6500), info: ok, nodes: nodes(idA, "")},
			b: {slots: without(5500, 6500), info: ok, nodes: nodes(idB, "")}, c: {slots: without(5500, 6500), info: ok, nodes: nodes(idC, "")}}, 3,
			"the Redis Cluster does not serve every shard: shard {hf:1} (slot 6000) has no primary"},
		{"another slot unassigned", map[string]nodeAnswer{a: {slots: without(7000, 8000), info: ok, nodes: nodes(idA, "")},
			b: {slots: without(7000, 8000), info: ok, nodes: nodes(idB, "")}, c: {slots: without(7000, 8000), info: ok, nodes: nodes(idC, "")}}, 3, ""},
		{"a shard's slot migrating", with(healthy(), b, nodeAnswer{slots: full, info: ok, nodes: nodes(idB, "[6000->-"+idC+"]")}), 3,
			"the Redis Cluster does not serve every shard: shard {hf:1} (slot 6000) is being moved from 10.0.0.2:7001 to 10.0.0.3:7002"},
		{"a shard's slot importing, not migrating", with(healthy(), c, nodeAnswer{slots: full, info: ok, nodes: nodes(idC, "[6000-<-"+idB+"]")}), 3, ""},
		{"another slot migrating", with(healthy(), b, nodeAnswer{slots: full, info: ok, nodes: nodes(idB, "[6001->-"+idC+"]")}), 3, ""},
		{"a primary down, the others failing", map[string]nodeAnswer{a: {slots: full, info: fail, nodes: nodes(idA, "")},
			b: {err: refused}, c: {slots: full, info: fail, nodes: nodes(idC, "")}}, 3,
			"the Redis Cluster is down: primary 10.0.0.2:7001 is unreachable (dial tcp 10.0.0.2:7001: connect: connection refused); primary 10.0.0.1:7000 says cluster_state:fail; primary 10.0.0.3:7002 says cluster_state:fail"},
		{"a primary silent", with(healthy(), c, nodeAnswer{err: errNoAnswer}), 3,
			"the Redis Cluster is down: primary 10.0.0.3:7002 did not answer within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			var err error
			if origin, view := chooseSlotMap(tc.answers, shardSlots); origin == "" {
				err = noSlotMap(tc.answers)
			} else {
				n, err = judgeCluster(shardSlots, view, tc.answers)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if n != tc.primaries || got != tc.err {
				t.Errorf("%d primaries, %q\nwant %d, %q", n, got, tc.primaries, tc.err)
			}
		})
	}
}

// A node's address in a slot map is read as the Redis client reads it: a loopback
// address given by a node reached on another is that node's host, and port 0 (a node
// on TLS only) is the port the map came from.
func TestSlotMapAddressesFromTheirOrigin(t *testing.T) {
	for _, tc := range []struct{ origin, addr, want string }{
		{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.2:7001"},
		{"10.0.0.1:7000", "127.0.0.1:7001", "10.0.0.1:7001"},
		{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7001"},
		{"localhost:7000", "127.0.0.1:7001", "127.0.0.1:7001"},
		{"10.0.0.1:7000", "10.0.0.2:0", "10.0.0.2:7000"},
		{"redis-0.example:7000", "::1:7001", "::1:7001"}, // not host:port: kept
	} {
		got := fromOrigin([]redis.ClusterSlot{{Nodes: []redis.ClusterNode{{Addr: tc.addr}}}}, tc.origin)
		if got[0].Nodes[0].Addr != tc.want {
			t.Errorf("%s from %s: %s, want %s", tc.addr, tc.origin, got[0].Nodes[0].Addr, tc.want)
		}
	}
}

// A primary killed, and not back: once its replica takes its place, a probe finds the
// Redis client still sending the shard's commands to the dead node (the client reloads
// its slot map at once on a MOVED reply, which a dead node never gives, and otherwise
// only every ClusterStateReloadInterval, a minute by default), has it reload the map,
// and says ready only then; the shard's commands reach the new primary.
func TestProbeFollowsAFailoverToAPrimaryGone(t *testing.T) {
	b := redistest.NewCluster(t, time.Second)
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: b.Cluster.Addrs, MaxRetries: -1})
	defer cc.Close()
	e := New(cc, Options{Shards: b.Shards, Logger: quiet})
	const shard = 2
	key := newShard(shard).prefix + "probe"
	if err := cc.Set(ctx, key, "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old, err := b.Cluster.PrimaryOf(ctx, newShard(shard).prefix)
	if err != nil {
		t.Fatal(err)
	}
	b.Cluster.Kill(old)
	promoted, err := b.Cluster.WaitPromoted(ctx, newShard(shard).prefix, old)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cc.MasterForKey(ctx, key); err != nil || c.Options().Addr != old {
		t.Fatalf("before the probe, the client sends shard %d to %v (%v); the test needs it still sending it to %s, killed", shard, c, err, old)
	}
	testutil.Eventually(t, 20*time.Second, "ready once the replica took the killed primary's place", func() bool { return e.Ping(ctx) == nil })
	if c, err := cc.MasterForKey(ctx, key); err != nil || c.Options().Addr != promoted {
		t.Errorf("ready, and the client sends shard %d to %v (%v), not to %s, promoted", shard, c, err, promoted)
	}
	if err := cc.Get(ctx, key).Err(); err != nil && err != redis.Nil {
		t.Errorf("a command of the shard, once ready: %v", err)
	}
}
