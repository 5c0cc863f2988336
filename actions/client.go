package actions

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// NewClient returns the HTTP client every http step shares: keep-alive connections
// pooled per host, every dial checked by the guard, no proxy taken from the environment
// (a proxy would dial on the guard's behalf) and no redirects followed (a redirect
// could lead a request, with its headers, somewhere the workflow never named).
func NewClient(g *Guard) *http.Client {
	return newClient(g, nil)
}

// NewProxyClient is NewClient sending every call through the proxy at proxy, for
// networks whose only way out is one. The proxy dials the destinations, so the guard
// checks each destination's addresses before the call is handed to it (the proxy's
// own address is dialed, and checked, as any other: allow it with --allow-net when it
// is private).
func NewProxyClient(g *Guard, proxy *url.URL) *http.Client {
	return newClient(g, func(r *http.Request) (*url.URL, error) {
		if err := g.checkHost(r.Context(), r.URL.Hostname()); err != nil {
			return nil, err
		}
		return proxy, nil
	})
}

func newClient(g *Guard, proxy func(*http.Request) (*url.URL, error)) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkHost checks every address host resolves to, for a call that a proxy dials.
func (g *Guard) checkHost(ctx context.Context, host string) error {
	if addr, err := netip.ParseAddr(host); err == nil {
		return g.Check(addr)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return err
		}
	}
	return nil
}
