package main

import (
	"net"
	"testing"
)

// addrConn is a connection from an address, for the counts alone.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func from(ip string) net.Conn {
	return addrConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
}

// Against the cap, each client counts up to its share; what it holds past that is
// counted for it alone, and refused.
func TestConnCapCountsEachClientUpToItsShare(t *testing.T) {
	k := newConnCap(8) // a share of 2
	a, b := from("192.0.2.1"), from("2001:db8:1:2::7")
	var held []*clientConns
	for range 5 {
		held = append(held, k.opened(a))
	}
	other := k.opened(b)
	k.opened(from("2001:db8:1:2::8")) // the same /64: the same client
	k.opened(from("2001:db8:1:2::9"))
	if n := k.counted.Load(); n != 4 {
		t.Errorf("%d counted, want each client's share of 2", n)
	}
	if why := k.refusal(held[0]); why != "too many connections open from this address; retry shortly" {
		t.Errorf("a client past its share: %q", why)
	}
	if why := k.refusal(other); why != "too many connections open from this address; retry shortly" {
		t.Errorf("the other client, at 3 of its share of 2: %q", why)
	}
	k.closed(from("2001:db8:1:2::8"))
	if why := k.refusal(other); why != "" {
		t.Errorf("a client at its share: %q", why)
	}
	for range 3 {
		k.closed(a)
	}
	if n := k.counted.Load(); n != 4 || held[0].open.Load() != 2 {
		t.Errorf("%d counted, %d open from a; want 4 and 2", k.counted.Load(), held[0].open.Load())
	}
	k.closed(a)
	k.closed(a)
	k.closed(b)
	k.closed(from("2001:db8:1:2::9"))
	if n := k.counted.Load(); n != 0 || len(k.clients) != 0 {
		t.Errorf("all closed: %d counted, %d clients kept", n, len(k.clients))
	}
	if why := newConnCap(0).refusal(held[0]); why != "" {
		t.Errorf("without a cap: %q", why)
	}
}
