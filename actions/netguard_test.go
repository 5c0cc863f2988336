package actions

import (
	"errors"
	"net/netip"
	"testing"
)

func TestGuard(t *testing.T) {
	g := NewGuard(nil)
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255", "fc00::1", "fd12::1",
		"fe80::1", "ff02::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a00:1::", "::127.0.0.1",
		"::1%lo", "fe80::1%eth0", "fd00::1%1", "fec0::1",
		// IPv4-translated (SIIT), local-use NAT64, Teredo and IPv4-compatible forms of
		// loopback and private addresses.
		"::ffff:0:7f00:1", "::ffff:0:a00:1", "::ffff:0:a9fe:a9fe", "64:ff9b:1::7f00:1",
		"2001:0:4136:e378:8000:63bf:80ff:fffe", "::7f00:1", "::a00:1",
	}
	for _, s := range refused {
		err := g.Check(netip.MustParseAddr(s))
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Errorf("%s: allowed, want refused", s)
		}
	}
	var be *BlockedError
	if errors.As(g.Check(netip.MustParseAddr("::1")), &be) && be.Reason != "loopback" {
		t.Errorf("::1 reported as %q", be.Reason)
	}
	allowed := []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::", "::ffff:0:808:808"}
	for _, s := range allowed {
		if err := g.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: %v, want allowed", s, err)
		}
	}
}

func TestGuardAllowList(t *testing.T) {
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")})
	for _, s := range []string{"10.9.9.9", "127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"} {
		if err := g.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: %v, want allowed", s, err)
		}
	}
	for _, s := range []string{"127.0.0.2", "192.168.0.1", "169.254.169.254"} {
		if err := g.Check(netip.MustParseAddr(s)); err == nil {
			t.Errorf("%s: allowed, want refused", s)
		}
	}
}

// hookflow's own admin and metrics listeners are refused whatever the allowed
// networks say, at the address they are bound to, or at every address of this machine
// when bound to all of them; other ports stay as allowed.
func TestGuardRefusesOwnListeners(t *testing.T) {
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	if err := g.RefuseOwn("127.0.0.1:8081", "admin API"); err != nil {
		t.Fatal(err)
	}
	if err := g.RefuseOwn("[::]:9090", "metrics listener"); err != nil {
		t.Fatal(err)
	}
	if err := g.RefuseOwn(":9191", "metrics listener"); err != nil {
		t.Fatal(err)
	}
	// On its port, every address of this machine: 0.0.0.0 and [::] reach a loopback
	// listener too.
	for _, addr := range []string{"127.0.0.1:8081", "[::ffff:127.0.0.1]:8081", "0.0.0.0:8081", "[::]:8081", "127.0.0.2:8081",
		"[::1]:8081", "127.0.0.1:9090", "[::1]:9090", "127.0.0.2:9191"} {
		err := g.control("tcp", addr, nil)
		var be *BlockedError
		if !errors.As(err, &be) || !be.Own {
			t.Errorf("%s: %v, want refused as hookflow's own", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:9999", "8.8.8.8:8081"} {
		if err := g.control("tcp", addr, nil); err != nil {
			t.Errorf("%s: %v, want allowed", addr, err)
		}
	}
	if err := g.RefuseOwn("nonsense", "admin API"); err == nil {
		t.Error("a malformed address was taken")
	}
}
