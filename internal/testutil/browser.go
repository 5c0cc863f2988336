package testutil

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// noRedirect is a client that hands back a redirect rather than follow it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// BrowserRequest sends a request to an admin API at base as a browser of its own
// origin does (Origin set to base), with a session cookie c (nil: none) and a form
// (nil: no body), and returns the answer, its body read and closed, without following
// a redirect.
func BrowserRequest(t testing.TB, base, method, path string, c *http.Cookie, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", base)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// SignIn signs in at the admin API at base with token, as its /login form does, and
// returns the session's cookie.
func SignIn(t testing.TB, base, token string) *http.Cookie {
	t.Helper()
	r := BrowserRequest(t, base, http.MethodPost, "/login", nil, url.Values{"token": {token}})
	if r.StatusCode != http.StatusSeeOther || len(r.Cookies()) != 1 {
		t.Fatalf("signing in: %d %v", r.StatusCode, r.Cookies())
	}
	return r.Cookies()[0]
}
