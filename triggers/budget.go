package triggers

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// DefaultBodyBudget is how many bytes of webhook bodies may be held in memory at once
// by default: 32 requests at the default max_body, thousands of usual ones.
const DefaultBodyBudget = 32 << 20

// clientShare is the part of the body budget one client may hold: a quarter, so that
// the slow uploads of one address cannot take the memory every other sender needs. It
// is counted in bytes, as bytes are what runs out.
const clientShare = 4

// errOverBudget is a body refused because the body budget is spent.
var errOverBudget = errors.New("the budget for bodies in progress is spent")

// errOverShare is a body refused because its client holds its whole share of the
// budget already.
var errOverShare = errors.New("the client holds its share of the budget for bodies in progress")

// budget is a count of bytes in use against a maximum, taken and given back by
// requests without waiting, of which each client may hold at most a share. The
// maximum over all clients is the last line: many clients at once still meet it.
type budget struct {
	max   int64
	share int64 // the most one client may hold; 0: max
	used  atomic.Int64

	mu      sync.Mutex
	clients map[netip.Addr]int64 // bytes held, by client; a client holding none is absent
}

// take reserves n more bytes for a request of client that holds held bytes already,
// or tells why it cannot: errOverShare when the client would pass its share,
// errOverBudget when all clients together would pass the maximum. A request alone
// may always take what it needs, and so may a client's only request, so that a
// maximum or a share below max_body refuses none.
func (b *budget) take(client netip.Addr, held, n int64) error {
	if !b.takeShare(client, held, n) {
		return errOverShare
	}
	if used := b.used.Add(n); used > b.max && used != held+n {
		b.used.Add(-n)
		b.giveShare(client, n)
		return errOverBudget
	}
	return nil
}

// give returns n bytes client took.
func (b *budget) give(client netip.Addr, n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	b.giveShare(client, n)
}

func (b *budget) takeShare(client netip.Addr, held, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	after := b.clients[client] + n
	if b.share > 0 && after > b.share && after != held+n {
		return false
	}
	if b.clients == nil {
		b.clients = map[netip.Addr]int64{}
	}
	b.clients[client] = after
	return true
}

func (b *budget) giveShare(client netip.Addr, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if left := b.clients[client] - n; left > 0 {
		b.clients[client] = left
	} else {
		delete(b.clients, client) // the map holds the clients with bodies in progress only
	}
}

// clientOf names the client of a request by its remote address: its IPv4 address, or
// the /64 its IPv6 address is in, as one host is usually given a whole /64 and could
// otherwise take a share with each address of it. Behind a proxy, the proxy is one
// client. An address that does not parse (none of TCP's) is the zero client.
func clientOf(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}
