package actions

import (
	"net/url"
	"sync/atomic"
)

// urlCache keeps the last URL a step parsed. A step's URL renders the same on most
// calls (a fixed endpoint, or one of few), and parsing it anew was a fair share of a
// call's work. The URL is checked as parseURL checks it when first parsed; the dialer
// still checks every address each request goes to.
type urlCache struct{ last atomic.Pointer[parsedURL] }

type parsedURL struct {
	raw string
	u   url.URL
}

// parse is parseURL(raw), from the cache when raw is the URL parsed last. It returns a
// copy, which the caller may change.
func (c *urlCache) parse(raw string) (*url.URL, error) {
	if p := c.last.Load(); p != nil && p.raw == raw {
		u := p.u
		return &u, nil
	}
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	c.last.Store(&parsedURL{raw: raw, u: *u})
	return u, nil
}
