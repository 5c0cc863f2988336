package admin

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A browser signs in with a token at /login and gets an HttpOnly, SameSite=Strict
// session cookie; with it, it reads, and (operator) acts only from the API's own
// origin. A cookie forged, expired or of another token is nothing.
func TestSessions(t *testing.T) {
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	srv := protectedServer(t, a)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func(token, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp, err := http.Get(srv.URL + "/login")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the sign-in form: %v %v", resp, err)
	}
	resp.Body.Close()
	if r := signIn(a.OperatorToken, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("a sign-in without Origin: %d", r.StatusCode)
	}
	if r := signIn(a.OperatorToken, "https://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Errorf("a sign-in from another origin: %d", r.StatusCode)
	}
	if r := signIn("guess-0123456789abcdef", srv.URL); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Errorf("a wrong token: %d %v", r.StatusCode, r.Cookies())
	}
	r := signIn(a.OperatorToken, srv.URL)
	if r.StatusCode != http.StatusSeeOther || len(r.Cookies()) != 1 {
		t.Fatalf("signing in: %d %v", r.StatusCode, r.Cookies())
	}
	op := r.Cookies()[0]
	if !op.HttpOnly || op.SameSite != http.SameSiteStrictMode || op.Name != sessionCookie {
		t.Errorf("cookie %+v", op)
	}
	reader := signIn(a.ReadToken, srv.URL).Cookies()[0]

	call := func(method string, c *http.Cookie, origin string) int {
		t.Helper()
		path := "/api/v1/runs"
		if method == "POST" {
			path = "/api/v1/runs/r1/replay"
		}
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := *reader
	forged.Value = "2" + reader.Value[1:] // the reader's cookie, claiming the operator's role
	expired := &http.Cookie{Name: sessionCookie, Value: a.newSession(roleOperator, time.Now().Add(-time.Minute))}
	other := &http.Cookie{Name: sessionCookie, Value: Access{OperatorToken: "another-token-0123456789"}.newSession(roleOperator, time.Now().Add(time.Hour))}
	for _, c := range []struct {
		name, method string
		cookie       *http.Cookie
		origin       string
		want         int
	}{
		{"operator reads", "GET", op, "", 200},
		{"operator acts from the page", "POST", op, srv.URL, 200},
		{"operator acts without Origin", "POST", op, "", 403},
		{"operator acts from another site", "POST", op, "https://evil.example", 403},
		{"reader reads", "GET", reader, "", 200},
		{"reader cannot act", "POST", reader, srv.URL, 403},
		{"forged", "POST", &forged, srv.URL, 401},
		{"expired", "GET", expired, "", 401},
		{"of other tokens", "GET", other, "", 401},
		{"none", "GET", nil, "", 401},
	} {
		if got := call(c.method, c.cookie, c.origin); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// A browser not signed in that opens a page of the run inspector goes to the sign-in
// form, and from it to the runs; the API still answers 401 to it.
func TestPagesSendToTheSignInForm(t *testing.T) {
	a := Access{OperatorToken: "operator-token-0123456789"}
	srv := protectedServer(t, a)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/": "/login", "/runs/r1": "/login?next=%2Fruns%2Fr1", "/api/v1/runs": "", "/assets/inspector.js": ""} {
		resp, err := noRedirect.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); got != want || want == "" && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s: %d to %q, want %q", path, resp.StatusCode, got, want)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"token": {a.OperatorToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "/" {
		t.Errorf("signed in, to %q, want the runs at /", resp.Header.Get("Location"))
	}
}

// A link to a page from another site (an alert, a chat) brings a browser to the
// sign-in form, without its SameSite=Strict cookie; once signed in, it goes on to
// the page the link named, query and all: the form keeps it. Only a path of this
// server is followed, never one a browser would take to another host.
func TestSignInGoesOnToThePageAsked(t *testing.T) {
	a := Access{OperatorToken: "operator-token-0123456789"}
	srv := protectedServer(t, a)
	const page = "/runs/01j%2Fx?tab=steps&n=1"
	r := testutil.BrowserRequest(t, srv.URL, http.MethodGet, page, nil, nil)
	login := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || login != "/login?next="+url.QueryEscape(page) {
		t.Fatalf("GET %s without a session: %d to %q", page, r.StatusCode, login)
	}
	// The form carries the page to its post, as a browser submits it.
	next := formNext(t, srv.URL+login)
	if next != page {
		t.Fatalf("the form's next is %q, want %q", next, page)
	}
	form := url.Values{"token": {a.OperatorToken}, "next": {next}}
	if r := testutil.BrowserRequest(t, srv.URL, http.MethodPost, "/login", nil, form); r.StatusCode != http.StatusSeeOther ||
		r.Header.Get("Location") != page || len(r.Cookies()) != 1 {
		t.Errorf("signed in: %d to %q, want %q", r.StatusCode, r.Header.Get("Location"), page)
	}
	// A wrong token keeps the page for the next try.
	form.Set("token", "guess-0123456789abcdef")
	if r, body := postLogin(t, srv.URL, form); r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `name="next" value="/runs/01j%2Fx?tab=steps&amp;n=1"`) {
		t.Errorf("a wrong token: %d, the form does not keep the page:\n%s", r.StatusCode, body)
	}

	for _, next := range []string{
		"//evil.example", "//evil.example/runs/r1", "///evil.example", "/\\evil.example", "/\\/evil.example",
		"\\\\evil.example", "https://evil.example", "http:evil.example", "javascript:alert(1)", "evil.example",
		"/\t/evil.example", "/\n/evil.example", "/runs/r1\r\nSet-Cookie: x=1",
		// Encoded once more than the form decodes: text that is no path.
		"%2F%2Fevil.example", "%2f%2fevil.example", "%5C%5Cevil.example", "https%3A%2F%2Fevil.example",
		"%252F%252Fevil.example",
	} {
		t.Run(next, func(t *testing.T) {
			if got := formNext(t, srv.URL+"/login?next="+url.QueryEscape(next)); got != "" {
				t.Errorf("the form keeps %q", got)
			}
			form := url.Values{"token": {a.OperatorToken}, "next": {next}}
			r := testutil.BrowserRequest(t, srv.URL, http.MethodPost, "/login", nil, form)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != signedInHome {
				t.Errorf("signed in with next %q: %d to %q, want %q", next, r.StatusCode, r.Header.Get("Location"), signedInHome)
			}
		})
	}
	// Taken from the address itself, an encoded path is the same page of this
	// server, whatever it names: the browser does not decode it.
	for _, page := range []string{"/%2F%2Fevil.example", "/%5Cevil.example", "/runs/%2F%2Fevil.example"} {
		r := testutil.BrowserRequest(t, srv.URL, http.MethodGet, page, nil, nil)
		next := formNext(t, srv.URL+r.Header.Get("Location"))
		form := url.Values{"token": {a.OperatorToken}, "next": {next}}
		if got := testutil.BrowserRequest(t, srv.URL, http.MethodPost, "/login", nil, form).Header.Get("Location"); got != page {
			t.Errorf("signed in after GET %s: to %q", page, got)
		}
	}
}

// formNext reads the sign-in form at u, and returns the page it goes on to: its
// hidden next field, "" without one.
func formNext(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_, v, ok := strings.Cut(string(body), `name="next" value="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return html.UnescapeString(v)
}

// postLogin posts form to the sign-in form at base, from its own origin, and
// returns the answer and its body.
func postLogin(t *testing.T, base string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// With a read-only token alone, its holder cannot sign an operator's session: the
// operator's key comes from the operator's token, and there is none.
func TestReaderCannotForgeAnOperatorSession(t *testing.T) {
	readerOnly := Access{ReadToken: "read-token-0123456789"}
	srv := protectedServer(t, readerOnly)
	// Everything a reader knows, signing a session of the operator's role every way
	// it could: with the reader's key, and with the keys of a missing operator token.
	payload := "2." + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ".c2Vzc2lvbi1pZC0wMTIzNA"
	forged := []string{
		Access{OperatorToken: readerOnly.ReadToken}.newSession(roleOperator, time.Now().Add(time.Hour)),
		payload + ".",
		payload + "." + readerOnly.sign(roleReader, payload),
	}
	for _, v := range forged {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/runs/r1/replay", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		req.Header.Set("Origin", srv.URL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a forged operator session %q: %d, want 401", v, resp.StatusCode)
		}
	}
	if s, ok := readerOnly.session(cookieRequest(readerOnly.newSession(roleReader, time.Now().Add(time.Hour))), time.Now()); !ok || s.role != roleReader {
		t.Errorf("the reader's own session: %v %v", s, ok)
	}
}

func cookieRequest(v string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
	return r
}

// POST /logout ends the session: its cookie, kept and sent again, is refused (401 by
// the API, to the sign-in form by the pages), by every process sharing the Redis,
// until the session would have ended; another session of the same token stays valid.
// A cookie of the format before sessions had ids is refused.
func TestSignOutEndsTheSession(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789",
			SignedOut: NewRedisSignedOut(b.Client)}
		one, other := protectedServer(t, a), protectedServer(t, a) // two processes, one Redis
		send := func(srv *httptest.Server, method, path string, c *http.Cookie) *http.Response {
			t.Helper()
			return testutil.BrowserRequest(t, srv.URL, method, path, c, nil)
		}
		signIn := func() *http.Cookie { return testutil.SignIn(t, one.URL, a.OperatorToken) }
		saved, kept := signIn(), signIn()
		for _, srv := range []*httptest.Server{one, other} {
			if r := send(srv, "GET", "/api/v1/runs", saved); r.StatusCode != http.StatusOK {
				t.Fatalf("signed in: %d", r.StatusCode)
			}
		}
		r := send(one, "POST", "/logout", saved)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" ||
			len(r.Cookies()) != 1 || r.Cookies()[0].MaxAge >= 0 {
			t.Fatalf("signing out: %d %q %v", r.StatusCode, r.Header.Get("Location"), r.Cookies())
		}
		for name, srv := range map[string]*httptest.Server{"where it signed out": one, "at another process": other} {
			if r := send(srv, "GET", "/api/v1/runs", saved); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s, the saved cookie reads the API: %d", name, r.StatusCode)
			}
			if r := send(srv, "GET", "/runs/r1", saved); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fruns%2Fr1" {
				t.Errorf("%s, the saved cookie opens a page: %d %q", name, r.StatusCode, r.Header.Get("Location"))
			}
			if r := send(srv, "POST", "/api/v1/runs/r1/replay", saved); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s, the saved cookie acts: %d", name, r.StatusCode)
			}
			if r := send(srv, "GET", "/api/v1/runs", kept); r.StatusCode != http.StatusOK {
				t.Errorf("%s, the other session: %d", name, r.StatusCode)
			}
		}
		ttl, err := b.Client.TTL(context.Background(), signedOutPrefix+strings.Split(saved.Value, ".")[2]).Result()
		if err != nil || ttl <= sessionLength-time.Minute || ttl > sessionLength {
			t.Errorf("kept signed out for %v (%v), want the session's remaining %v", ttl, err, sessionLength)
		}
		until := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		old := &http.Cookie{Name: sessionCookie, Value: "2." + until + "." + a.sign(roleOperator, "2."+until)}
		if r := send(one, "GET", "/api/v1/runs", old); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("a cookie without an id: %d", r.StatusCode)
		}
	})
}

// Without a Redis given, sessions signed out are kept in the process's memory.
func TestSignOutInMemory(t *testing.T) {
	a := Access{OperatorToken: "operator-token-0123456789"}
	h := Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), a)
	c := &http.Cookie{Name: sessionCookie, Value: a.newSession(roleOperator, time.Now().Add(time.Hour))}
	do := func(method, path string) int {
		r := httptest.NewRequest(method, "http://admin.example"+path, nil)
		r.Header.Set("Origin", "http://admin.example")
		r.AddCookie(c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if got := do("GET", "/api/v1/runs"); got != http.StatusOK {
		t.Fatalf("signed in: %d", got)
	}
	if got := do("POST", "/logout"); got != http.StatusSeeOther {
		t.Fatalf("signing out: %d", got)
	}
	if got := do("GET", "/api/v1/runs"); got != http.StatusUnauthorized {
		t.Errorf("signed out: %d", got)
	}
}

// While Redis cannot be reached, a request with a session cookie is answered 503 with
// Retry-After, the pages' too, and so is a sign-out: the session stays valid, and a
// sign-out once Redis is back ends it.
func TestSessionsWhileRedisIsDown(t *testing.T) {
	b := redistest.Real(t)
	// A client that tries each command once: a refused connection fails at once.
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	a := Access{OperatorToken: "operator-token-0123456789", SignedOut: NewRedisSignedOut(rdb)}
	srv := protectedServer(t, a)
	cookie := testutil.SignIn(t, srv.URL, a.OperatorToken)
	if r := testutil.BrowserRequest(t, srv.URL, "GET", "/api/v1/runs", cookie, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("signed in, with Redis up: %d", r.StatusCode)
	}
	b.Stop()
	for _, c := range []struct{ method, path, says string }{
		{"GET", "/api/v1/runs", "cannot check the session right now: Redis: "},
		{"GET", "/runs/r1", "cannot check the session right now: Redis: "},
		{"POST", "/api/v1/runs/r1/replay", "cannot check the session right now: Redis: "},
		{"POST", "/logout", "cannot sign out right now (the session stays valid)"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
			req.Header.Set("Origin", srv.URL)
			req.AddCookie(cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				!strings.Contains(string(body), c.says) || len(resp.Cookies()) != 0 {
				t.Errorf("with Redis down: %d, Retry-After %q, cookies %v, %s; want 503 saying %q",
					resp.StatusCode, resp.Header.Get("Retry-After"), resp.Cookies(), body, c.says)
			}
		})
	}
	// The bearer token needs no Redis to be checked.
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/runs", nil)
	req.Header.Set("Authorization", "Bearer "+a.OperatorToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the token with Redis down: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	b.Restart()
	if r := testutil.BrowserRequest(t, srv.URL, "GET", "/api/v1/runs", cookie, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the session once Redis is back: %d, want it still valid", r.StatusCode)
	}
	if r := testutil.BrowserRequest(t, srv.URL, "POST", "/logout", cookie, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing out again: %d", r.StatusCode)
	}
	if r := testutil.BrowserRequest(t, srv.URL, "GET", "/api/v1/runs", cookie, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out once Redis is back: %d", r.StatusCode)
	}
}
