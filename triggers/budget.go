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

	// clients are the bytes each client holds (*atomic.Int64 by netip.Addr): a
	// request finds its client's count without a lock, as requests on every core do.
	// A client holding none keeps its entry until a sweep (sweep), which holds
	// sweeping to keep takes and gives out while it drops entries at 0.
	clients  sync.Map
	sweeping sync.RWMutex
	added    atomic.Int64 // entries made since the last sweep
}

// sweepAfter is how many entries are made between sweeps: what the map holds past the
// clients with bodies in progress.
const sweepAfter = 1024

// take reserves n more bytes for a request of client that holds held bytes already,
// or tells why it cannot: errOverShare when the client would pass its share,
// errOverBudget when all clients together would pass the maximum. A request alone
// may always take what it needs, and so may a client's only request, so that a
// maximum or a share below max_body refuses none.
func (b *budget) take(client netip.Addr, held, n int64) error {
	b.sweeping.RLock()
	defer b.sweeping.RUnlock()
	c := b.count(client)
	if after := c.Add(n); b.share > 0 && after > b.share && after != held+n {
		c.Add(-n)
		return errOverShare
	}
	if used := b.used.Add(n); used > b.max && used != held+n {
		b.used.Add(-n)
		c.Add(-n)
		return errOverBudget
	}
	return nil
}

// give returns n bytes client took.
func (b *budget) give(client netip.Addr, n int64) {
	if n == 0 {
		return
	}
	b.sweeping.RLock()
	b.used.Add(-n)
	b.count(client).Add(-n)
	b.sweeping.RUnlock()
	if b.added.Load() >= sweepAfter {
		b.sweep()
	}
}

// count is client's count of bytes held, made at 0 when it has none. The caller holds
// sweeping for reading: no sweep drops it meanwhile.
func (b *budget) count(client netip.Addr) *atomic.Int64 {
	if c, ok := b.clients.Load(client); ok {
		return c.(*atomic.Int64)
	}
	c, loaded := b.clients.LoadOrStore(client, new(atomic.Int64))
	if !loaded {
		b.added.Add(1)
	}
	return c.(*atomic.Int64)
}

// sweep drops the entries of clients that hold nothing.
func (b *budget) sweep() {
	b.sweeping.Lock()
	defer b.sweeping.Unlock()
	if b.added.Load() < sweepAfter {
		return // another sweep came first
	}
	b.clients.Range(func(k, c any) bool {
		if c.(*atomic.Int64).Load() == 0 {
			b.clients.Delete(k)
		}
		return true
	})
	b.added.Store(0)
}

// pressed reports whether more than half of the maximum is taken.
func (b *budget) pressed() bool {
	return b.used.Load() > b.max/2
}

// held is the bytes client holds.
func (b *budget) held(client netip.Addr) int64 {
	if c, ok := b.clients.Load(client); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// ClientOf names the client of a request by its remote address: its IPv4 address, or
// the /64 its IPv6 address is in, as one host is usually given a whole /64 and could
// otherwise take a share with each address of it. Behind a proxy, the proxy is one
// client. An address that does not parse (none of TCP's) is the zero client. The body
// budget's shares and the webhook listener's connection shares are by this client.
func ClientOf(remoteAddr string) netip.Addr {
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
