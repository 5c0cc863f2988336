package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func protectedServer(t *testing.T, a Access) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /metrics", ok)
	mux.HandleFunc("GET /api/v1/runs", ok)
	mux.HandleFunc("POST /api/v1/runs/{id}/replay", ok)
	mux.HandleFunc("POST /api/v1/workflows/{name}/runs", ok)
	srv := httptest.NewServer(Protect(mux, a))
	t.Cleanup(srv.Close)
	return srv
}

type req struct {
	name, method, path, host, body string
	headers                        map[string]string
	want                           int
}

func check(t *testing.T, srv *httptest.Server, cases []req) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if c.host != "" {
				r.Host = c.host
			}
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
			}
			if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("a CORS header: %q", v)
			}
		})
	}
}

// Without a token the API is for this machine: it answers loopback names only (a
// rebound DNS name is refused), and refuses what a web page can make a browser send.
func TestAccessWithoutToken(t *testing.T) {
	srv := protectedServer(t, Access{})
	json := map[string]string{"Content-Type": "application/json"}
	check(t, srv, []req{
		{"loopback address", "GET", "/api/v1/runs", "", "", nil, 200},
		{"localhost", "GET", "/api/v1/runs", "localhost:8081", "", nil, 200},
		{"a rebound name", "GET", "/api/v1/runs", "evil.example:8081", "", nil, http.StatusMisdirectedRequest},
		{"a LAN address", "GET", "/api/v1/runs", "192.168.1.5:8081", "", nil, http.StatusMisdirectedRequest},
		{"probes whatever the host", "GET", "/healthz", "evil.example", "", nil, 200},
		{"a replay", "POST", "/api/v1/runs/r1/replay", "", "", nil, 200},
		{"a replay, no body, text/plain", "POST", "/api/v1/runs/r1/replay", "", "", map[string]string{"Content-Type": "text/plain"}, 200},
		{"JSON start", "POST", "/api/v1/workflows/a/runs", "", `{}`, json, 200},
		{"a form post", "POST", "/api/v1/workflows/a/runs", "", "a=1", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"text/plain", "POST", "/api/v1/workflows/a/runs", "", `{}`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"no content type", "POST", "/api/v1/workflows/a/runs", "", `{}`, nil, http.StatusUnsupportedMediaType},
		{"another origin", "POST", "/api/v1/runs/r1/replay", "", "", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", "POST", "/api/v1/runs/r1/replay", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", "POST", "/api/v1/runs/r1/replay", "", "", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"same origin", "POST", "/api/v1/runs/r1/replay", "", "", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, 200},
	})
}

// The read-only token is refused a resume, and the refusal names resumes among what
// needs the operator token.
func TestAccessReaderCannotResume(t *testing.T) {
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	h := Protect(http.NotFoundHandler(), a)
	r := httptest.NewRequest("POST", "/api/v1/runs/r1/resume/approval", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+a.ReadToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "resumes") {
		t.Errorf("a resume with the read-only token: %d %s, want 403 naming resumes", w.Code, w.Body)
	}
}

// With tokens every endpoint but the probes needs one; the read-only token reads, the
// operator token also acts.
func TestAccessWithTokens(t *testing.T) {
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	srv := protectedServer(t, a)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	check(t, srv, []req{
		{"no token", "GET", "/api/v1/runs", "", "", nil, 401},
		{"a wrong token", "GET", "/api/v1/runs", "", "", bearer("operator-token-012345678"), 401},
		{"basic instead", "GET", "/api/v1/runs", "", "", map[string]string{"Authorization": "Basic b3BlcmF0b3I="}, 401},
		{"reader reads", "GET", "/api/v1/runs", "", "", bearer(a.ReadToken), 200},
		{"reader cannot replay", "POST", "/api/v1/runs/r1/replay", "", "", bearer(a.ReadToken), 403},
		{"operator replays", "POST", "/api/v1/runs/r1/replay", "", "", bearer(a.OperatorToken), 200},
		{"scheme in any case", "GET", "/api/v1/runs", "", "", map[string]string{"Authorization": "bearer " + a.ReadToken}, 200},
		{"metrics need a token", "GET", "/metrics", "", "", nil, 401},
		{"probes do not", "GET", "/healthz", "", "", nil, 200},
		{"any host with a token", "GET", "/api/v1/runs", "hookflow.internal:8081", "", bearer(a.ReadToken), 200},
	})
	withHosts := a
	withHosts.Hosts, withHosts.MetricsPublic = []string{"hookflow.internal"}, true
	srv = protectedServer(t, withHosts)
	check(t, srv, []req{
		{"a named host", "GET", "/api/v1/runs", "hookflow.internal:8081", "", bearer(a.ReadToken), 200},
		{"another host", "GET", "/api/v1/runs", "other.example", "", bearer(a.ReadToken), http.StatusMisdirectedRequest},
		{"public metrics", "GET", "/metrics", "", "", nil, 200},
	})
}

func TestAccessCheckBind(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8081": true, "[::1]:8081": true, "localhost:8081": true,
		"0.0.0.0:8081": false, ":8081": false, "[::]:8081": false, "10.0.0.5:8081": false} {
		if err := (Access{}).CheckBind(addr); (err == nil) != ok {
			t.Errorf("%s without a token: %v", addr, err)
		}
	}
	if err := (Access{OperatorToken: "x"}).CheckBind("0.0.0.0:8081"); err != nil {
		t.Errorf("with a token: %v", err)
	}
}

// Each refusal says what is wrong with the request it refuses: a sign-out typed in
// the address bar is shown its button (a GET that signed out would let any page sign
// a browser out), OPTIONS changes nothing and is answered as the API answers it,
// /metrics made public takes no token for any method. Every answer of Protect's, its
// own refusals too, says nosniff.
func TestRefusalsFitTheRequest(t *testing.T) {
	a := Access{ReadToken: "read-token-0123456789", OperatorToken: "operator-token-0123456789"}
	const host = "http://127.0.0.1:8081"
	type request struct {
		name, method, path string
		headers            map[string]string
		session            bool // with an operator session's cookie
	}
	type want struct {
		status         int
		allow, holding string
	}
	foreign := map[string]string{"Origin": "https://evil.example"}
	for _, tc := range []struct {
		access Access
		req    request
		want   want
	}{
		{a, request{"a sign-out typed in", "GET", "/logout", nil, true}, want{200, "", `<form method="post" action="/logout">`}},
		{a, request{"a sign-out typed in, not signed in", "GET", "/logout", nil, false}, want{http.StatusSeeOther, "", ""}},
		{a, request{"a sign-out put", "PUT", "/logout", nil, true}, want{405, "GET, HEAD, POST", "sign out with POST"}},
		{a, request{"a sign-out posted without Origin", "POST", "/logout", nil, true}, want{403, "", "without this origin's Origin header"}},
		{a, request{"a sign-out posted from elsewhere", "POST", "/logout", foreign, true}, want{403, "", "from another origin"}},
		{Access{}, request{"OPTIONS from another origin", "OPTIONS", "/api/v1/runs", foreign, false}, want{405, "GET, HEAD", ""}},
		{Access{}, request{"OPTIONS", "OPTIONS", "/api/v1/runs", nil, false}, want{405, "GET, HEAD", ""}},
		{a, request{"OPTIONS with a session, from another origin", "OPTIONS", "/api/v1/runs", foreign, true}, want{405, "GET, HEAD", ""}},
		{a, request{"OPTIONS without a token", "OPTIONS", "/api/v1/runs", nil, false}, want{401, "", "needs a token"}},
		{Access{OperatorToken: a.OperatorToken, MetricsPublic: true}, request{"a POST to public metrics", "POST", "/metrics", nil, false},
			want{405, "GET, HEAD", ""}},
		{Access{OperatorToken: a.OperatorToken, MetricsPublic: true}, request{"public metrics", "GET", "/metrics", nil, false}, want{200, "", ""}},
		{a, request{"no token", "GET", "/api/v1/runs", nil, false}, want{401, "", "needs a token"}},
		{a, request{"a change from elsewhere", "POST", "/api/v1/runs/r1/replay", foreign, false}, want{403, "", "another origin"}},
		{Access{}, request{"a form", "POST", "/api/v1/workflows/a/runs", map[string]string{"Content-Type": "text/plain"}, false}, want{415, "", "JSON bodies only"}},
	} {
		t.Run(tc.req.name, func(t *testing.T) {
			mux := http.NewServeMux()
			ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }
			mux.HandleFunc("GET /metrics", ok)
			mux.HandleFunc("GET /api/v1/runs", ok)
			mux.HandleFunc("POST /api/v1/runs/{id}/replay", ok)
			mux.HandleFunc("POST /api/v1/workflows/{name}/runs", ok)
			h := Protect(mux, tc.access)
			body := ""
			if tc.req.name == "a form" {
				body = "a=1"
			}
			r := httptest.NewRequest(tc.req.method, host+tc.req.path, strings.NewReader(body))
			for k, v := range tc.req.headers {
				r.Header.Set(k, v)
			}
			if tc.req.session {
				r.AddCookie(&http.Cookie{Name: sessionCookie, Value: a.newSession(roleOperator, time.Now().Add(time.Hour))})
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want.status || !strings.Contains(w.Body.String(), tc.want.holding) {
				t.Errorf("%d %s, want %d holding %q", w.Code, w.Body, tc.want.status, tc.want.holding)
			}
			if got := w.Header().Get("Allow"); got != tc.want.allow {
				t.Errorf("Allow: %q, want %q", got, tc.want.allow)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: %q", got)
			}
			if tc.req.path == "/logout" && len(w.Result().Cookies()) != 0 {
				t.Errorf("the session's cookie is changed: %v", w.Result().Cookies())
			}
		})
	}
}

// The host refusal says nosniff too.
func TestMisdirectedSaysNosniff(t *testing.T) {
	h := Protect(http.NotFoundHandler(), Access{})
	r := httptest.NewRequest("GET", "http://evil.example/api/v1/runs", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get(Header) != headerValue {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}
