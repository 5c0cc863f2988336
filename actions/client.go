package actions

import (
	"net"
	"net/http"
	"time"
)

// NewClient returns the HTTP client every http step shares: keep-alive connections
// pooled per host, every dial checked by the guard, no proxy taken from the environment
// (a proxy would dial on the guard's behalf) and no redirects followed (a redirect
// could lead a request, with its headers, somewhere the workflow never named).
func NewClient(g *Guard) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
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
