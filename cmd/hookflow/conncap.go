package main

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/hookflow/hookflow/triggers"
)

// connShare is the part of --max-conns one client may hold: a quarter, as of the body
// budget, so that the idle connections of one address (an IPv4 address, an IPv6 /64)
// cannot take the places every other sender needs.
const connShare = 4

// connCap counts the open connections of the public listener, by client as the body
// budget names them (triggers.ClientOf). Against --max-conns, each client's count up
// to its share: a client holding more has its further connections counted for itself
// only, and its requests answered 503, while everyone else's go on.
type connCap struct {
	max     int64 // --max-conns; 0: no cap, and no share
	share   int64
	counted atomic.Int64 // open connections, each client's up to its share

	mu      sync.Mutex
	clients map[netip.Addr]*clientConns // clients with connections open
}

// clientConns is a client's count of open connections.
type clientConns struct {
	open atomic.Int64 // changed under the cap's mu; read by requests without it
}

func newConnCap(maxConns int) *connCap {
	return &connCap{max: int64(maxConns), share: max(int64(maxConns)/connShare, 1), clients: map[netip.Addr]*clientConns{}}
}

// opened counts the connection c, and returns its client's count.
func (k *connCap) opened(c net.Conn) *clientConns {
	client := triggers.ClientOf(c.RemoteAddr().String())
	k.mu.Lock()
	defer k.mu.Unlock()
	cc := k.clients[client]
	if cc == nil {
		cc = &clientConns{}
		k.clients[client] = cc
	}
	if cc.open.Add(1) <= k.share {
		k.counted.Add(1)
	}
	return cc
}

// closed uncounts the connection c.
func (k *connCap) closed(c net.Conn) {
	client := triggers.ClientOf(c.RemoteAddr().String())
	k.mu.Lock()
	defer k.mu.Unlock()
	cc := k.clients[client]
	if cc == nil {
		return
	}
	n := cc.open.Add(-1)
	if n < k.share {
		k.counted.Add(-1)
	}
	if n == 0 {
		delete(k.clients, client)
	}
}

// refusal is why a request on a connection of cc is refused ("" when it is not): its
// client holds more than its share, or the connections counted are past the cap.
func (k *connCap) refusal(cc *clientConns) string {
	switch {
	case k.max <= 0:
		return ""
	case cc != nil && cc.open.Load() > k.share:
		return "too many connections open from this address; retry shortly"
	case k.counted.Load() > k.max:
		return "too many connections open; retry shortly"
	}
	return ""
}

// connClientKey is the context key of a connection's *clientConns.
type connClientKey struct{}

// withClient is the public listener's ConnContext: it counts the connection and keeps
// its client's count for its requests.
func (k *connCap) withClient(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connClientKey{}, k.opened(c))
}

// clientOfRequest is the count of the client of a request's connection.
func clientOfRequest(ctx context.Context) *clientConns {
	cc, _ := ctx.Value(connClientKey{}).(*clientConns)
	return cc
}
