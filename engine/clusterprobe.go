package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterProbe tells whether a Redis Cluster serves every shard of hookflow. It asks
// the nodes itself, on clients of its own, rather than trust the Redis client's slot
// map: the client takes its map from whichever known node it asks first, and a node
// removed from the cluster that keeps running (redis-cli --cluster del-node, CLUSTER
// RESET) answers with an empty map, in which no slot has a primary.
type clusterProbe struct {
	cc *redis.ClusterClient
	// slots are the hash slots of the shards' tags {hf:N}, by shard.
	slots []int

	mu      sync.Mutex
	clients map[string]*redis.Client // by address: the nodes the last probe asked
	// primaries are those of the slot map the last probe took: asked again by the next
	// one, should the seed nodes be gone.
	primaries []string
}

func newClusterProbe(cc *redis.ClusterClient, shards int) *clusterProbe {
	p := &clusterProbe{cc: cc, clients: map[string]*redis.Client{}}
	for i := range shards {
		p.slots = append(p.slots, slotOf(newShard(i).prefix))
	}
	return p
}

// nodeAnswer is what one node answered a probe.
type nodeAnswer struct {
	slots []redis.ClusterSlot // CLUSTER SLOTS: the slot map as the node sees it
	info  string              // CLUSTER INFO: its cluster_state
	nodes string              // CLUSTER NODES: the slots it is moving, on its own line
	err   error               // why it did not answer; errNoAnswer: not in time
}

// nodeTimeout bounds one node's answer to a probe: a node that holds its connection
// and answers nothing (stopped, its disk stalled) must not use up the probe's whole
// healthTimeout, nor /readyz's, when the others answered in a millisecond. A probe
// waits for the Redis client's slot map and asks in two rounds, each bounded by this.
const nodeTimeout = healthTimeout / 4

// errNoAnswer is a node's that did not answer within nodeTimeout.
var errNoAnswer = fmt.Errorf("did not answer within %s", nodeTimeout)

// probe asks the seed nodes, and the primaries the last probe and the Redis client
// know, for their slot map, takes the map that gives the most shards a primary, then
// asks each of its primaries it has not asked yet, all until ctx ends. It returns how
// many primaries the map has, and why the cluster cannot serve every shard (see
// judgeCluster).
func (p *clusterProbe) probe(ctx context.Context) (int, error) {
	seeds, routes := p.candidates(ctx)
	answers := p.ask(ctx, seeds)
	origin, view := chooseSlotMap(answers, p.slots)
	if origin == "" {
		return 0, noSlotMap(answers)
	}
	var more []string
	primaries := primariesOf(view)
	for _, addr := range primaries {
		if _, ok := answers[addr]; !ok {
			more = append(more, addr)
		}
	}
	for addr, a := range p.ask(ctx, more) {
		answers[addr] = a
	}
	p.keep(answers, primaries)
	n, err := judgeCluster(p.slots, view, answers)
	if err == nil {
		err = p.follow(ctx, view, routes, answers)
	}
	return n, err
}

// follow checks that the Redis client sends each shard's commands to a node that
// answers (routes: the client's, by shard, as candidates found them, every one of them
// asked: answers). One that still sends them to a node that does not, no longer the
// shard's primary (killed, its replica promoted, before the client's next reload of
// its slot map), has it reload the map now; a shard it still sends there after that is
// named: its commands fail. A node that answers but is not the shard's primary (the
// old one, back as a replica) answers MOVED, which the client follows by itself; and
// the client may spell a node's address otherwise than the map the probe took does.
func (p *clusterProbe) follow(ctx context.Context, view []redis.ClusterSlot, routes []string, answers map[string]nodeAnswer) error {
	astray := func() []string {
		var shards []string
		for i, slot := range p.slots {
			to, want := routes[i], ownerOf(view, slot)
			if a, asked := answers[to]; to != "" && to != want && (!asked || a.err != nil) {
				shards = append(shards, fmt.Sprintf("shard {hf:%d} to %s, not its primary %s", i, to, want))
			}
		}
		return shards
	}
	if len(astray()) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	// ForEachMaster reloads the slot map first, where ReloadState only schedules it.
	_ = p.cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
	routes = p.routes(ctx)
	var more []string // a route the reload gave, spelled otherwise than the map's: asked now
	for _, to := range routes {
		if _, asked := answers[to]; to != "" && !asked && !slices.Contains(more, to) {
			more = append(more, to)
		}
	}
	for addr, a := range p.ask(ctx, more) {
		answers[addr] = a
	}
	if shards := astray(); len(shards) > 0 {
		return fmt.Errorf("the Redis client has not followed the cluster's failover yet: it sends %s", strings.Join(shards, "; "))
	}
	return nil
}

// candidates are the nodes a probe asks for their slot map: the seed nodes hookflow
// was given, the primaries of the map the last probe took, and the primaries the
// Redis client sends the shards' commands to, which it returns too, by shard.
func (p *clusterProbe) candidates(ctx context.Context) (addrs, routes []string) {
	addrs = slices.Clone(p.cc.Options().Addrs)
	p.mu.Lock()
	addrs = append(addrs, p.primaries...)
	p.mu.Unlock()
	// The Redis client loads its slot map from one node it knows, which may be the
	// one that hangs: it has nodeTimeout to, like every node the probe asks.
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	routes = p.routes(ctx)
	for _, addr := range routes {
		if addr != "" {
			addrs = append(addrs, addr)
		}
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), routes
}

// routes returns the address of the node the Redis client sends each shard's commands
// to, by shard: "" for every shard from the first it has no node for (it has no slot
// map and could not load one: it will not for the next shard).
func (p *clusterProbe) routes(ctx context.Context) []string {
	routes := make([]string, len(p.slots))
	for i := range p.slots {
		c, err := p.cc.MasterForKey(ctx, newShard(i).prefix)
		if err != nil {
			break
		}
		routes[i] = c.Options().Addr
	}
	return routes
}

// ask asks each node of addrs, at once, for CLUSTER SLOTS, CLUSTER INFO and CLUSTER
// NODES, each within nodeTimeout, until ctx ends: a node that has not answered by
// then is given errNoAnswer.
func (p *clusterProbe) ask(ctx context.Context, addrs []string) map[string]nodeAnswer {
	var mu sync.Mutex
	got := make(map[string]nodeAnswer, len(addrs))
	var wg sync.WaitGroup
	for _, addr := range addrs {
		c := p.client(addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
			defer cancel()
			a := askNode(ctx, c)
			mu.Lock()
			got[addr] = a
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	wait := time.NewTimer(nodeTimeout + 50*time.Millisecond) // a read its deadline does not cut
	defer wait.Stop()
	select {
	case <-done:
	case <-wait.C: // a node that holds its connection and answers nothing
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	answers := make(map[string]nodeAnswer, len(addrs))
	for _, addr := range addrs {
		a, ok := got[addr]
		if !ok {
			a.err = errNoAnswer
		}
		answers[addr] = a
	}
	return answers
}

func askNode(ctx context.Context, c *redis.Client) nodeAnswer {
	pipe := c.Pipeline()
	slots := pipe.ClusterSlots(ctx)
	info := pipe.ClusterInfo(ctx)
	nodes := pipe.ClusterNodes(ctx)
	if _, err := pipe.Exec(ctx); err != nil {
		var nerr net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &nerr) && nerr.Timeout() {
			err = errNoAnswer
		}
		return nodeAnswer{err: err}
	}
	return nodeAnswer{slots: fromOrigin(slots.Val(), c.Options().Addr), info: info.Val(), nodes: nodes.Val()}
}

// client returns the probe's client of the node at addr.
func (p *clusterProbe) client(addr string) *redis.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[addr]
	if c == nil {
		c = redis.NewClient(nodeOptions(p.cc.Options(), addr))
		p.clients[addr] = c
	}
	return c
}

// keep remembers the primaries of the slot map a probe took, and closes the clients of
// the nodes it did not ask.
func (p *clusterProbe) keep(asked map[string]nodeAnswer, primaries []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.primaries = primaries
	for addr, c := range p.clients {
		if _, ok := asked[addr]; !ok {
			_ = c.Close()
			delete(p.clients, addr)
		}
	}
}

// nodeOptions are the options of a client of one node of the cluster of o: how to
// reach and authenticate to it, as the Redis client's own clients of its nodes do.
// One connection is enough: probes run one at a time.
func nodeOptions(o *redis.ClusterOptions, addr string) *redis.Options {
	return &redis.Options{Addr: addr, ClientName: o.ClientName, Dialer: o.Dialer, OnConnect: o.OnConnect,
		Protocol: o.Protocol, Username: o.Username, Password: o.Password,
		CredentialsProvider: o.CredentialsProvider, CredentialsProviderContext: o.CredentialsProviderContext,
		StreamingCredentialsProvider: o.StreamingCredentialsProvider, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, DialerRetries: o.DialerRetries, DialerRetryTimeout: o.DialerRetryTimeout,
		DialerRetryBackoff: o.DialerRetryBackoff, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		// The probe's context bounds each read (nodeTimeout), and a node is not asked
		// twice: its next probe asks again.
		ContextTimeoutEnabled: true, DisableIdentity: o.DisableIdentity,
		IdentitySuffix: o.IdentitySuffix, MaxRetries: -1, PoolSize: 1}
}

// fromOrigin rewrites a slot map's node addresses as the Redis client does: a loopback
// address, given by a node not reached on one, is the node's port on the host of the
// node that gave the map; port 0 (a node listening on TLS only) is that node's port.
func fromOrigin(slots []redis.ClusterSlot, origin string) []redis.ClusterSlot {
	originHost, originPort, err := net.SplitHostPort(origin)
	if err != nil {
		return slots
	}
	originIP := net.ParseIP(originHost)
	loopbackOrigin := originIP != nil && originIP.IsLoopback() || strings.EqualFold(originHost, "localhost")
	for i := range slots {
		for j := range slots[i].Nodes {
			host, port, err := net.SplitHostPort(slots[i].Nodes[j].Addr)
			if err != nil {
				continue
			}
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !loopbackOrigin {
				host = originHost
			}
			if port == "0" {
				port = originPort
			}
			slots[i].Nodes[j].Addr = net.JoinHostPort(host, port)
		}
	}
	return slots
}

// chooseSlotMap returns the slot map a probe judges the cluster by, and the address of
// the node that gave it ("" when none did): of the nodes that answered, the one whose
// map gives the most of the shards' slots a primary, then the most slots, then the
// first by address. A node that left the cluster answers with an empty or an old map,
// which is not the cluster's.
func chooseSlotMap(answers map[string]nodeAnswer, shardSlots []int) (string, []redis.ClusterSlot) {
	var best string
	var bestShards, bestSlots int
	for _, addr := range slices.Sorted(maps.Keys(answers)) {
		a := answers[addr]
		if a.err != nil {
			continue
		}
		shards, slots := 0, 0
		for _, s := range shardSlots {
			if ownerOf(a.slots, s) != "" {
				shards++
			}
		}
		for _, r := range a.slots {
			if len(r.Nodes) > 0 {
				slots += r.End - r.Start + 1
			}
		}
		if best == "" || shards > bestShards || shards == bestShards && slots > bestSlots {
			best, bestShards, bestSlots = addr, shards, slots
		}
	}
	if best == "" {
		return "", nil
	}
	return best, answers[best].slots
}

// noSlotMap is why a probe found no slot map: no node it asked answered.
func noSlotMap(answers map[string]nodeAnswer) error {
	var why []string
	late := 0
	for _, addr := range slices.Sorted(maps.Keys(answers)) {
		if err := answers[addr].err; errors.Is(err, errNoAnswer) {
			late++
		} else {
			why = append(why, fmt.Sprintf("%s: %v", addr, err))
		}
	}
	if len(why) == 0 {
		return fmt.Errorf("the Redis Cluster is unreachable: no node gave its slot map within %s", nodeTimeout)
	}
	if late > 0 {
		why = append(why, fmt.Sprintf("%d more did not answer within %s", late, nodeTimeout))
	}
	return fmt.Errorf("the Redis Cluster is unreachable: reading its slot map: %s", strings.Join(why, "; "))
}

// primariesOf returns the addresses of the primaries of a slot map, sorted.
func primariesOf(view []redis.ClusterSlot) []string {
	var addrs []string
	for _, r := range view {
		if len(r.Nodes) > 0 {
			addrs = append(addrs, r.Nodes[0].Addr)
		}
	}
	slices.Sort(addrs)
	return slices.Compact(addrs)
}

// ownerOf returns the address of the primary of slot in a slot map; "" when none.
func ownerOf(view []redis.ClusterSlot, slot int) string {
	for _, r := range view {
		if slot >= r.Start && slot <= r.End && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr
		}
	}
	return ""
}

// judgeCluster tells whether a cluster whose slot map is view, and whose nodes gave
// answers, serves every shard, of those whose tags have shardSlots: every primary of
// the map answers and says cluster_state:ok (a cluster refuses the commands of the
// slots of a primary that is gone, and, with cluster-require-full-coverage, of every
// slot); every shard's slot has a primary (with cluster-require-full-coverage no, a
// cluster says ok while slots have none); and none is being moved to another node (its
// primary says MIGRATING: hookflow does not follow ASK redirects, so the shard's starts
// and commits fail until the move ends). It returns how many primaries the map
// has, and an error naming each primary, then each shard, that fails one of these.
func judgeCluster(shardSlots []int, view []redis.ClusterSlot, answers map[string]nodeAnswer) (int, error) {
	primaries := primariesOf(view)
	if len(primaries) == 0 {
		return 0, errors.New("the Redis Cluster is unreachable: its slot map has no primary")
	}
	var down, failing, shards []string
	moving := map[int]string{} // by slot: from which node to which
	for _, addr := range primaries {
		a := answers[addr]
		switch state := clusterState(a.info); {
		case errors.Is(a.err, errNoAnswer):
			down = append(down, fmt.Sprintf("primary %s did not answer within %s", addr, nodeTimeout))
		case a.err != nil:
			down = append(down, fmt.Sprintf("primary %s is unreachable (%v)", addr, a.err))
		case state != "ok":
			failing = append(failing, fmt.Sprintf("primary %s says cluster_state:%s", addr, state))
		default:
			for slot, move := range migratingSlots(a.nodes) {
				moving[slot] = move
			}
		}
	}
	for i, slot := range shardSlots {
		switch {
		case ownerOf(view, slot) == "":
			shards = append(shards, fmt.Sprintf("shard {hf:%d} (slot %d) has no primary", i, slot))
		case moving[slot] != "":
			shards = append(shards, fmt.Sprintf("shard {hf:%d} (slot %d) is being moved %s", i, slot, moving[slot]))
		}
	}
	switch {
	case len(down)+len(failing) > 0:
		return len(primaries), fmt.Errorf("the Redis Cluster is down: %s", strings.Join(slices.Concat(down, failing, shards), "; "))
	case len(shards) > 0:
		return len(primaries), fmt.Errorf("the Redis Cluster does not serve every shard: %s", strings.Join(shards, "; "))
	}
	return len(primaries), nil
}

// migratingSlots returns the slots a node is moving to another node, as its CLUSTER
// NODES reply says on its own line ("myself"): "[slot->-id]" for a slot it is
// migrating to node id; by slot, "from <its address> to <the other's>". A slot that
// another node is importing ("[slot-<-id]") without its owner migrating it is served
// as before: its owner answers its commands.
func migratingSlots(nodes string) map[int]string {
	addrs := map[string]string{} // by node id
	var mine []string
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addrs[f[0]] = addr
		if slices.Contains(strings.Split(f[2], ","), "myself") {
			mine = f
		}
	}
	if mine == nil {
		return nil
	}
	moving := map[int]string{}
	for _, s := range mine[8:] {
		slot, id, ok := strings.Cut(strings.Trim(s, "[]"), "->-")
		n, err := strconv.Atoi(slot)
		if !ok || err != nil {
			continue
		}
		to := addrs[id]
		if to == "" {
			to = "node " + id
		}
		moving[n] = fmt.Sprintf("from %s to %s", addrs[mine[0]], to)
	}
	return moving
}
