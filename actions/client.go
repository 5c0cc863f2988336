package actions

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// MaxResponseHeaders caps the bytes of a response's headers (its status line, names
// and values) that a call reads: an answer with more fails its call (headersTooLarge).
// Go's default is 1 MiB, and a step's output and its recorded request each keep the
// headers it read. Servers and proxies send far less: nginx reads an upstream's
// headers into 4 or 8 KiB by default.
const MaxResponseHeaders = 64 << 10

// NewClient returns the HTTP client every http step shares: keep-alive connections
// pooled per host, every dial checked by the guard (the host dialled, then the address
// it resolves to), no proxy taken from the environment (a proxy would dial on the
// guard's behalf), no redirects followed (a redirect could lead a request, with its
// headers, somewhere the workflow never named) and headers read up to
// MaxResponseHeaders.
func NewClient(g *Guard) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            g.dialContext(dialer.DialContext),
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           1024,
			MaxIdleConnsPerHost:    256,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: MaxResponseHeaders, // HTTP/2's limit follows it
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// headersTooLarge reports whether err is a call's refusal of an answer whose headers
// are over MaxResponseHeaders: over HTTP/1, or over HTTP/2 a header list past the
// limit announced to the server. net/http has no error value for either, so their
// messages are matched; TestHTTPStepHeadersCap fails if they change.
func headersTooLarge(err error) bool {
	s := err.Error()
	return strings.Contains(s, "net/http: server response headers exceeded") ||
		strings.Contains(s, "http2: response header list larger than advertised limit")
}

// headersMaybeTooLarge reports whether err is the end of an HTTP/2 connection that an
// answer's headers past MaxResponseHeaders cause: a PROTOCOL_ERROR (a header block so
// far past the limit that it is not read) or a COMPRESSION_ERROR (one header's text
// past it). Another fault of the server's may end it so, so such a call is retried as
// other connection errors are, its error naming the limit.
func headersMaybeTooLarge(err error) bool {
	s := err.Error()
	return strings.HasSuffix(s, "connection error: PROTOCOL_ERROR") || strings.HasSuffix(s, "connection error: COMPRESSION_ERROR")
}
