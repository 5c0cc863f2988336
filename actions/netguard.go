package actions

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Guard decides which addresses outbound calls may connect to. It checks the address
// actually dialed, after DNS resolution, so a name that resolves (or re-resolves) to a
// private address is caught as surely as a literal one.
type Guard struct {
	allow []netip.Prefix
	own   []ownListener
}

// ownListener is a listener of this hookflow that steps may never call, whatever the
// allowed networks: its admin API and metrics.
type ownListener struct {
	addr netip.AddrPort // an unspecified address: every address of this machine
	what string
}

// NewGuard returns a guard that refuses every non-public address except those inside
// one of the allowed prefixes (the operator's --allow-net).
func NewGuard(allow []netip.Prefix) *Guard {
	return &Guard{allow: allow}
}

// RefuseOwn makes the guard refuse the listener at addr (as it is bound: ":8081",
// "127.0.0.1:8081", "[::]:9090"), whatever the allowed networks say. what names it in
// the error. hookflow refuses its own admin and metrics listeners so that a workflow
// whose URL comes from an event cannot read other runs through them.
func (g *Guard) RefuseOwn(addr, what string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "" {
			return fmt.Errorf("%s address %q: %v", what, addr, err)
		}
		if ap, err = netip.ParseAddrPort("0.0.0.0:" + port); err != nil {
			return fmt.Errorf("%s address %q: %v", what, addr, err)
		}
	}
	g.own = append(g.own, ownListener{addr: netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port()), what: what})
	return nil
}

// ownRefused reports which of hookflow's own listeners the address dialed may reach,
// if any: any address of this machine on the listener's port, as the kernel takes
// 0.0.0.0 or [::] for a local address and may route other local addresses to it.
func (g *Guard) ownRefused(addr netip.Addr, port uint16) (string, bool) {
	addr = addr.WithZone("").Unmap()
	for _, o := range g.own {
		if o.addr.Port() == port && (o.addr.Addr() == addr || isLocal(addr)) {
			return o.what, true
		}
	}
	return "", false
}

// isLocal reports whether addr is one of this machine's: loopback, unspecified, or an
// address of one of its interfaces.
func isLocal(addr netip.Addr) bool {
	if addr.IsLoopback() || addr.IsUnspecified() {
		return true
	}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse rather than risk it
	}
	for _, a := range ifaddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().WithZone("").Unmap() == addr {
			return true
		}
	}
	return false
}

// BlockedError is returned when an outbound call would reach a refused address.
type BlockedError struct {
	Addr   netip.Addr
	Host   string // for a host refused before it was resolved: Addr is not valid then
	Reason string
	Own    bool // hookflow's own admin or metrics listener: no --allow-net lets it through
}

func (e *BlockedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("refusing to connect to %q: %s", e.Host, e.Reason)
	}
	if e.Own {
		return fmt.Sprintf("refusing to connect to %s: it is %s, which steps may never call", e.Addr, e.Reason)
	}
	bits := 32
	if e.Addr.Is6() {
		bits = 128
	}
	return fmt.Sprintf("refusing to connect to %s: %s address (allow it with --allow-net %s/%d)", e.Addr, e.Reason, e.Addr, bits)
}

// blocked lists the address ranges that are not the public internet.
var blocked = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "unspecified or IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	siit      = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (RFC 2765): ::ffff:0:a.b.c.d
)

// Check returns a *BlockedError when addr may not be dialed.
func (g *Guard) Check(addr netip.Addr) error {
	// A zone ("fe80::1%eth0") makes every prefix test false: judge the address without it.
	addr = addr.WithZone("").Unmap()
	for _, p := range g.allow {
		if p.Contains(addr) {
			return nil
		}
	}
	// IPv6 forms that carry an IPv4 address are judged by the address they carry.
	if v4, ok := embeddedV4(addr); ok {
		if err := g.Check(v4); err != nil {
			return &BlockedError{Addr: addr, Reason: err.(*BlockedError).Reason + " (embedded in IPv6)"}
		}
		return nil
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return &BlockedError{Addr: addr, Reason: b.reason}
		}
	}
	return nil
}

func embeddedV4(addr netip.Addr) (netip.Addr, bool) {
	b := addr.As16()
	switch {
	case nat64.Contains(addr), siit.Contains(addr):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// control is a net.Dialer Control function: it runs after resolution, on the address
// about to be connected.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	addr, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if what, ok := g.ownRefused(addr.Addr(), addr.Port()); ok {
		return &BlockedError{Addr: addr.Addr(), Reason: "hookflow's own " + what, Own: true}
	}
	return g.Check(addr.Addr())
}

// ambiguousReason is why a numeric host that is not a dotted IPv4 address is refused.
const ambiguousReason = "a numeric host that is not a dotted IPv4 address; decimal, octal and hex forms mean different addresses to different resolvers"

// refusedHost returns a *BlockedError when host, a URL's host without its port, is a
// numeric host that is not written the one standard way (ambiguousIPv4), as net/http
// dials it: a host with characters past ASCII is dialled as IDNA maps it, and the
// mapping turns ideographic and full-width dots (。．｡) into ".", full-width and other
// compatibility digits into ASCII ones, and drops a soft hyphen, so "0177。0。0。1" is
// dialled as "0177.0.0.1". The mapping's ASCII holds only letters, digits, "-" and
// ".": never an IPv6 literal, a port or another separator. A host it refuses is
// dialled as written, which no resolver reads as a number.
func refusedHost(host string) error {
	dialled := DialledHost(host)
	if !ambiguousIPv4(dialled) {
		return nil
	}
	reason := ambiguousReason
	if dialled != host {
		reason = fmt.Sprintf("dialled as %q once IDNA maps it to ASCII, %s", dialled, reason)
	}
	return &BlockedError{Host: host, Reason: reason}
}

// DialledHost is host, a URL's host without its port, as net/http dials it (and puts
// it in the Host header): as it is when all ASCII; else mapped to ASCII by IDNA's
// lookup profile (UTS #46), as net/http's transport does with the same package; as
// it is again when the mapping refuses it.
func DialledHost(host string) string {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			if ascii, err := idna.Lookup.ToASCII(host); err == nil {
				return ascii
			}
			return host
		}
	}
	return host
}

// dialContext returns dial, checking first the host it is given: the host net/http
// dials, after its own IDNA mapping. Every request of the client is checked so, an
// OAuth2 token request as well as a step's call, whatever checked its URL before.
func (g *Guard) dialContext(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(address); err == nil {
			if err := refusedHost(host); err != nil {
				return nil, err
			}
		}
		return dial(ctx, network, address)
	}
}

// ambiguousIPv4 reports whether host is made of numbers but is not an address written
// the one standard way: "2130706433", "0177.0.0.1", "0x7f.1" and "127.1" all name
// 127.0.0.1 to some resolvers and nothing to others. No real name looks like that.
func ambiguousIPv4(host string) bool {
	host = strings.TrimSuffix(host, ".") // "127.1." is "127.1" to a resolver
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		digits := strings.TrimPrefix(strings.TrimPrefix(label, "0x"), "0X")
		if digits == "" && label != "0x" && label != "0X" {
			return false // an empty label: a trailing dot, or ".."
		}
		for _, c := range digits {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
		if digits == label && strings.ContainsAny(label, "abcdefABCDEF") {
			return false // letters without 0x: a name such as "cafe" or "be"
		}
	}
	return true
}
