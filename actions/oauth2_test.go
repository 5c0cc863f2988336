package actions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// authServer is a stand-in OAuth2 token endpoint and an API that takes the tokens it
// issued since it last revoked them all.
type authServer struct {
	t          *testing.T
	tokens     *httptest.Server
	api        *httptest.Server
	expiresIn  int
	rotate     bool // answer each refresh with a new refresh token
	requests   atomic.Int64
	apiCalls   atomic.Int64
	mu         sync.Mutex
	issued     map[string]bool // the access tokens the API takes
	current    string          // the access token issued last
	refresh    string          // the refresh token the endpoint takes next
	grants     []string
	refreshes  []string // the refresh tokens the endpoint got
	inFile     string   // the refresh token the api's file gives
	failStatus int      // answer token requests with this status
	// echo makes a refusal's error_description repeat the request's Authorization
	// header and form, as some endpoints do.
	echo       bool
	tokenQuery string   // the query of the api's token_url, "?p=…"
	queries    []string // the queries the endpoint got
	// secret is the client secret the endpoint takes, and the api's file gives.
	secret string
	// gate, when set, holds each token request until it is closed.
	gate chan struct{}
	// limits are the api block's rate_limit, burst and concurrency, as written.
	limits string
	// takes is how the endpoint takes the client's credentials: "basic" (HTTP basic
	// auth, as by default) or "post" (in the form, and refused as basic auth).
	takes string
	// oauth2 is more of the api's auth "oauth2" block, as written.
	oauth2 string
}

func newAuthServer(t *testing.T) *authServer {
	s := &authServer{t: t, expiresIn: 3600, refresh: "refresh-0", inFile: "refresh-0", issued: map[string]bool{},
		secret: "client-secret-1"}
	s.tokens = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		n := s.requests.Add(1)
		user, pass, _ := r.BasicAuth()
		_ = r.ParseForm()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.grants = append(s.grants, r.Form.Get("grant_type"))
		s.queries = append(s.queries, r.URL.RawQuery)
		if rt := r.Form.Get("refresh_token"); rt != "" {
			s.refreshes = append(s.refreshes, rt)
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case s.failStatus != 0 && s.echo:
			w.WriteHeader(s.failStatus)
			desc := fmt.Sprintf("unknown client; got Authorization: %s, form: %s", r.Header.Get("Authorization"), r.PostForm.Encode())
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": desc})
			return
		case s.failStatus != 0:
			w.WriteHeader(s.failStatus)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"unknown client"}`)
			return
		case s.takes == "post" && (r.Header.Get("Authorization") != "" || r.PostForm.Get("client_id") != "hookflow" ||
			r.PostForm.Get("client_secret") != s.secret):
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		case s.takes != "post" && (user != "hookflow" || pass != s.secret || r.PostForm.Has("client_secret")):
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		case r.Form.Get("grant_type") == "refresh_token" && r.Form.Get("refresh_token") != s.refresh:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh token already used"}`)
			return
		}
		s.current = fmt.Sprintf("access-token-%d", n)
		s.issued[s.current] = true
		answer := map[string]any{"access_token": s.current, "token_type": "Bearer", "expires_in": s.expiresIn}
		if s.rotate {
			s.refresh = fmt.Sprintf("refresh-%d", n)
			answer["refresh_token"] = s.refresh
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(s.tokens.Close)
	s.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.apiCalls.Add(1)
		s.mu.Lock()
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := s.issued[token]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid token"}`)
			return
		}
		fmt.Fprintf(w, `{"ok": true, "echo": %q}`, r.Header.Get("Authorization"))
	}))
	t.Cleanup(s.api.Close)
	return s
}

// revoke makes the API refuse every token it took until now.
func (s *authServer) revoke() {
	s.mu.Lock()
	clear(s.issued)
	s.mu.Unlock()
}

func (s *authServer) hcl(grant string) string {
	extra := ""
	if grant == "refresh_token" {
		extra = `grant = "refresh_token"
    refresh_token = "` + s.inFile + `"`
	}
	return `
api "crm" {
  base_url = "` + s.api.URL + `/api"
  ` + s.limits + `
  auth "oauth2" {
    token_url     = "` + s.tokens.URL + `/oauth/token` + s.tokenQuery + `"
    client_id     = "hookflow"
    client_secret = "` + s.secret + `"
    scopes        = ["customers:read"]
    ` + extra + `
    ` + s.oauth2 + `
  }
}`
}

// process is one hookflow process: its own state for the apis, on the shared Redis.
type process struct {
	apis *APIs
	wf   *workflows.Workflow
}

// clock is a clock tests move.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newProcess(t *testing.T, s *authServer, grant string, rdb redis.UniversalClient, clk *clock) *process {
	t.Helper()
	apis := NewAPIs()
	apis.now = clk.now
	if rdb != nil {
		apis.Connect(rdb)
	}
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
	src := s.hcl(grant) + `
workflow "w" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "crm.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return &process{apis: apis, wf: set.Workflow("w")}
}

func (p *process) call(ctx context.Context) (*workflows.Call, any, error) {
	c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Workflow: "w", Step: "find", Attempt: 1, Secrets: p.wf.Secrets}
	out, err := p.wf.Steps[0].Action.Do(ctx, c)
	return c, out, err
}

// twoProcesses starts two processes sharing the backend's Redis, each with its own
// client.
func twoProcesses(t *testing.T, b *redistest.Backend, s *authServer, grant string, clk *clock) (*process, *process) {
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	other := redis.NewClient(opts)
	t.Cleanup(func() { other.Close() })
	return newProcess(t, s, grant, b.Client, clk), newProcess(t, s, grant, other, clk)
}

// callMany makes n calls, half from each process, all at once, and fails on any error.
func callMany(t *testing.T, n int, ps ...*process) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := ps[i%len(ps)].call(t.Context()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestOAuth2OneTokenForEveryProcess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "client_credentials", clk)
		callMany(t, 200, a, c)
		if n := s.requests.Load(); n != 1 {
			t.Fatalf("%d token requests for 200 calls from two processes, want 1", n)
		}

		// Past 90% of its lifetime, one refresh for both processes.
		clk.advance(3240*time.Second + time.Second)
		callMany(t, 100, a, c)
		if n := s.requests.Load(); n != 2 {
			t.Fatalf("%d token requests after the token's refresh time, want 2", n)
		}

		// A token the API refuses: refreshed once, and each refused call sent again.
		// The process that did not fetch may fetch once more: a call of its own that took
		// the revoked token after the other kept a new one cannot tell that one from a
		// token revoked since.
		s.revoke()
		before := s.apiCalls.Load()
		callMany(t, 50, a, c)
		if n := s.requests.Load(); n != 3 && n != 4 {
			t.Fatalf("%d token requests after a 401, want 3, or 4 when one process took the revoked token late", n)
		}
		if calls := s.apiCalls.Load() - before; calls < 51 || calls > 100 {
			t.Errorf("%d API calls for 50 steps after the revocation: each refused call is sent once more, no more", calls)
		}
		assertNoPlainToken(t, b.Client, s)
	})
}

func TestOAuth2RotatedRefreshTokenIsUsedNext(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate, s.expiresIn = true, 60
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "refresh_token", clk)
		callMany(t, 20, a, c)
		for range 3 {
			clk.advance(55 * time.Second) // past 54 s: 90% of 60
			callMany(t, 20, a, c)
		}
		// The endpoint refuses a refresh token used before: four requests, each with the
		// token the one before gave, and none refused.
		if n := s.requests.Load(); n != 4 {
			t.Fatalf("%d token requests, want 4", n)
		}
		for _, g := range s.grants {
			if g != "refresh_token" {
				t.Errorf("grant %q, want refresh_token", g)
			}
		}
		// A process that starts later finds the rotated refresh token, not the first.
		clk.advance(55 * time.Second)
		late := newProcess(t, s, "refresh_token", b.Client, clk)
		if _, _, err := late.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		assertNoPlainToken(t, b.Client, s)
	})
}

// A 401 is answered with a token fetched after the refused call was sent: one another
// process fetched after an earlier 401 may have been revoked since, with the refused one.
func TestOAuth2CallRefusedIsSentAgainWithATokenFetchedAfterIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "client_credentials", clk)
		callMany(t, 2, a, c) // both hold the first token
		// The provider revokes every token: c's call is refused, and c fetches another
		// and keeps it in Redis.
		s.revoke()
		if _, _, err := c.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := s.requests.Load(); n != 2 {
			t.Fatalf("%d token requests after the first revocation, want 2", n)
		}
		// It revokes every token again: a, still holding the first, is refused, and the
		// token c kept, fetched before a's call, is as dead.
		s.revoke()
		before := s.apiCalls.Load()
		if _, _, err := a.call(t.Context()); err != nil {
			t.Fatalf("a call refused once fails: %v", err)
		}
		if n := s.requests.Load(); n != 3 {
			t.Errorf("%d token requests after the second revocation, want 3", n)
		}
		if calls := s.apiCalls.Load() - before; calls != 2 {
			t.Errorf("%d API calls for the refused call, want 2: it is sent once more", calls)
		}
		assertNoPlainToken(t, b.Client, s)
	})
}

// sentRefreshTokens returns the refresh tokens the endpoint got since the last call,
// in order.
func (s *authServer) sentRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.refreshes
	s.refreshes = nil
	return got
}

// chain makes p refresh twice with a provider that rotates refresh tokens, and returns
// the rotated one kept.
func chain(t *testing.T, s *authServer, p *process, clk *clock) string {
	t.Helper()
	s.rotate, s.expiresIn = true, 60
	for range 3 {
		if _, _, err := p.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.advance(55 * time.Second) // past 54 s: 90% of 60
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshes = nil
	return s.refresh
}

// A user who consented again after the provider revoked the rotated refresh tokens
// gives the new refresh token in the file: hookflow starts from it, not from the one
// rotated from the old.
func TestOAuth2NewRefreshTokenInTheFileStartsAnew(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		kept := chain(t, s, newProcess(t, s, "refresh_token", b.Client, clk), clk)
		s.mu.Lock()
		s.refresh = "consented-again" // the chain up to kept is revoked
		s.mu.Unlock()
		s.revoke()
		s.inFile = "consented-again"
		restarted := newProcess(t, s, "refresh_token", b.Client, clk)
		if _, _, err := restarted.call(t.Context()); err != nil {
			t.Fatalf("the refresh token given in the file is not used: %v", err)
		}
		if got := s.sentRefreshTokens(); !slices.Equal(got, []string{"consented-again"}) {
			t.Errorf("the endpoint got %q, want only the new refresh token, not %q", got, kept)
		}
		// Its state is kept as the old one was: the next refresh uses its rotation.
		clk.advance(55 * time.Second)
		if _, _, err := restarted.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := s.sentRefreshTokens(); len(got) != 1 || got[0] == "consented-again" {
			t.Errorf("the endpoint got %q, want the refresh token it rotated", got)
		}
		assertNoPlainToken(t, b.Client, s)
		for _, k := range b.Keys(t.Context(), "*") {
			if strings.Contains(k, "consented-again") {
				t.Errorf("key %q holds the refresh token", k)
			}
		}
	})
}

// A rotated refresh token the endpoint refuses as invalid_grant is dropped: the one
// in the file is tried at once. Neither is sent again once refused.
func TestOAuth2RefusedRotatedRefreshTokenIsDropped(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		p := newProcess(t, s, "refresh_token", b.Client, clk)
		kept := chain(t, s, p, clk)
		s.mu.Lock()
		s.refresh = "revoked" // the endpoint takes neither
		s.mu.Unlock()
		_, _, err := p.call(t.Context())
		var te *TokenError
		if !errors.As(err, &te) || te.Code != "invalid_grant" {
			t.Fatalf("err = %v, want the endpoint's invalid_grant", err)
		}
		if retry, _ := workflows.Retryable(err); retry {
			t.Errorf("an invalid_grant is retried")
		}
		if got := s.sentRefreshTokens(); !slices.Equal(got, []string{kept, "refresh-0"}) {
			t.Errorf("the endpoint got %q, want the kept refresh token, then the file's", got)
		}
		// Neither is sent again: the endpoint refused both.
		if _, _, err := p.call(t.Context()); err == nil {
			t.Fatal("a call passed with no refresh token the endpoint takes")
		}
		if got := s.sentRefreshTokens(); len(got) != 0 {
			t.Errorf("the endpoint got %q, want nothing: it refused both refresh tokens", got)
		}
	})
}

// A rotated refresh token kept before the refresh token was part of the state's
// identity is taken over once, so that an upgrade does not send the file's, long
// rotated away.
func TestOAuth2RefreshTokenKeptBeforeIsTakenOver(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate = true
		clk := &clock{}
		p := newProcess(t, s, "refresh_token", b.Client, clk)
		o := p.wf.Steps[0].Action.(*HTTP).api.Auth.OAuth2
		legacyID := configID("crm", o.TokenURL, o.ClientID, strings.Join(o.Scopes, " "), o.Audience, o.Grant)
		before := newTokenSource(p.apis, "crm", legacyID, "", o)
		owner, _, err := before.lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		now := clk.now()
		err = before.store(t.Context(), owner, &oauthToken{Access: "access-token-before", Refresh: "refresh-before",
			Fetched: now.Add(-time.Hour), Expires: now.Add(-time.Minute), RefreshAt: now.Add(-time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		s.refresh = "refresh-before" // "refresh-0", in the file, was rotated away
		s.mu.Unlock()
		if _, _, err := p.call(t.Context()); err != nil {
			t.Fatalf("the refresh token kept before is not taken over: %v", err)
		}
		if got := s.sentRefreshTokens(); !slices.Equal(got, []string{"refresh-before"}) {
			t.Errorf("the endpoint got %q, want the refresh token kept before", got)
		}
		if n := b.Client.Exists(t.Context(), before.key).Val(); n != 0 {
			t.Errorf("the token kept before is still there: it is taken over once")
		}
	})
}

// assertNoPlainToken reads every key of Redis and fails if a token or a client secret
// is readable in one.
func assertNoPlainToken(t *testing.T, rdb redis.UniversalClient, s *authServer) {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no key in Redis: the token is not shared")
	}
	s.mu.Lock()
	secrets := []string{s.current, s.refresh, "client-secret-1", "access-token-"}
	s.mu.Unlock()
	for _, k := range keys {
		if !strings.HasPrefix(k, "{hf:api:crm}:") {
			t.Errorf("key %q is outside the api's own keys", k)
		}
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if strings.Contains(v, secret) {
				t.Errorf("key %s holds %q in plain text", k, secret)
			}
		}
	}
}

func TestOAuth2TokenNeverRecorded(t *testing.T) {
	s := newAuthServer(t)
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	c, out, err := p.call(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	token := s.current
	s.mu.Unlock()
	recorded, _ := json.Marshal([]any{c.Sent, out})
	if strings.Contains(string(recorded), token) {
		t.Errorf("the token is in what the step records: %s", recorded)
	}
	if !strings.Contains(string(recorded), `Bearer [redacted]`) {
		t.Errorf("the echoed token is not shown redacted: %s", recorded)
	}
}

func TestOAuth2TokenEndpointFailureFailsTheStep(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
		want      string
	}{
		{401, false, `api "crm": getting an OAuth2 token from http://127.0.0.1`},
		{503, true, "status 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s := newAuthServer(t)
			s.failStatus = tt.status
			p := newProcess(t, s, "client_credentials", nil, &clock{})
			_, _, err := p.call(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "invalid_client (unknown client)") {
				t.Fatalf("err = %v, want it to say %q and the endpoint's error", err, tt.want)
			}
			if retry, _ := workflows.Retryable(err); retry != tt.retryable {
				t.Errorf("retryable = %v, want %v", retry, tt.retryable)
			}
			if strings.Contains(err.Error(), "client-secret-1") {
				t.Errorf("the error shows the client secret: %v", err)
			}
		})
	}
}

// A token endpoint that repeats what it got in its error_description shows none of
// the client's credentials in the step's error: neither the secret, nor the base64
// of the Basic credentials, nor the refresh tokens sent, in the file or rotated.
func TestOAuth2TokenEndpointErrorHidesTheCredentials(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("hookflow:client-secret-1"))
	for _, grant := range []string{"client_credentials", "refresh_token"} {
		t.Run(grant, func(t *testing.T) {
			s := newAuthServer(t)
			s.inFile, s.refresh = "refresh-in-file", "refresh-in-file"
			s.rotate = true
			p := newProcess(t, s, grant, nil, &clock{})
			if _, _, err := p.call(t.Context()); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			rotated := s.refresh
			s.failStatus, s.echo = 401, true
			s.mu.Unlock()
			s.revoke() // the next call needs a new token: the endpoint refuses it
			_, _, err := p.call(t.Context())
			var te *TokenError
			if !errors.As(err, &te) || te.Status != 401 || !strings.Contains(te.Description, "Authorization: Basic [redacted]") {
				t.Fatalf("err = %v, want the endpoint's 401 with what it repeated, redacted", err)
			}
			for _, v := range []string{basic, "client-secret-1", "refresh-in-file", rotated} {
				if grant == "client_credentials" && v == rotated {
					continue // none was sent
				}
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows %s: %v", v, err)
				}
			}
		})
	}
}

// client_auth says how the client's credentials go to the token endpoint: as HTTP
// basic auth by default (client_secret_basic), in the form with "post"
// (client_secret_post). An endpoint that takes them the other way only answers
// invalid_client, and the error says to try the other.
func TestOAuth2ClientAuth(t *testing.T) {
	for _, c := range []struct {
		name, takes, attr string
		want              string // "" for a token
	}{
		{"basic by default", "basic", "", ""},
		{"basic", "basic", `client_auth = "basic"`, ""},
		{"post", "post", `client_auth = "post"`, ""},
		{"basic to an endpoint taking post", "post", "",
			`status 401 Unauthorized: invalid_client (client authentication failed); the client's credentials were sent as HTTP ` +
				`basic auth; if they are right, the endpoint may take them in the form only (client_secret_post): set ` +
				`client_auth = "post" in the api's auth "oauth2" block`},
		{"post to an endpoint taking basic", "basic", `client_auth = "post"`,
			`status 401 Unauthorized: invalid_client; the client's credentials were sent in the form (client_auth = "post"); if ` +
				`they are right, the endpoint may take them as HTTP basic auth only (client_secret_basic): leave client_auth out, ` +
				`or set client_auth = "basic"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newAuthServer(t)
			s.takes, s.oauth2 = c.takes, c.attr
			p := newProcess(t, s, "client_credentials", nil, &clock{})
			_, out, err := p.call(t.Context())
			if c.want == "" {
				if err != nil || out.(map[string]any)["status"] != 200 {
					t.Fatalf("call: %v, want a token and the call answered", err)
				}
				return
			}
			want := `api "crm": getting an OAuth2 token from ` + s.tokens.URL + `/oauth/token: ` + c.want
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), s.secret) {
				t.Errorf("the error shows the client secret: %v", err)
			}
		})
	}
}

// With client_auth = "post", an endpoint that repeats the form it got in its error
// shows no client secret either, form-encoded as it was sent.
func TestOAuth2ClientAuthPostErrorHidesTheSecret(t *testing.T) {
	s := newAuthServer(t)
	s.secret, s.oauth2 = "client secret+1/ä", `client_auth = "post"`
	s.failStatus, s.echo = 401, true
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	_, _, err := p.call(t.Context())
	var te *TokenError
	if !errors.As(err, &te) || !strings.Contains(te.Description, "client_secret=[redacted]") {
		t.Fatalf("err = %v, want the endpoint's 401 with the form it repeated, redacted", err)
	}
	for _, v := range []string{s.secret, url.QueryEscape(s.secret)} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("the error shows %s: %v", v, err)
		}
	}
}

// A token_url may have a query, as Azure AD B2C's names its policy: the token request
// is sent to it with the query.
func TestOAuth2TokenURLWithAQuery(t *testing.T) {
	s := newAuthServer(t)
	s.tokenQuery = "?p=b2c_1_signin"
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	if _, _, err := p.call(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.queries, []string{"p=b2c_1_signin"}) {
		t.Errorf("the token endpoint got the queries %q, want [p=b2c_1_signin]", s.queries)
	}
}

// A call the API answered 401 is recorded with that answer when no token comes to send
// it again: the history does not say it got none.
func TestOAuth2TokenEndpointFailureAfterA401RecordsThe401(t *testing.T) {
	s := newAuthServer(t)
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	if _, _, err := p.call(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.revoke()
	s.mu.Lock()
	s.failStatus = 503
	s.mu.Unlock()
	c, _, err := p.call(t.Context())
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 503 {
		t.Fatalf("err = %v, want the token endpoint's 503", err)
	}
	if retry, _ := workflows.Retryable(err); !retry {
		t.Errorf("a 503 of the token endpoint is not retried")
	}
	if c.Sent == nil || c.Sent.Status != http.StatusUnauthorized {
		t.Fatalf("recorded %+v, want the 401 the API answered", c.Sent)
	}
	if got := c.Sent.Headers["Authorization"]; got != "Bearer [redacted]" {
		t.Errorf("recorded Authorization %q", got)
	}

	// The next attempt does not send the refused token again: it asks for a new one
	// first, and is sent once one came.
	calls := s.apiCalls.Load()
	if _, _, err := p.call(t.Context()); !errors.As(err, &te) || te.Status != 503 {
		t.Fatalf("err = %v, want the token endpoint's 503 again", err)
	}
	if n := s.apiCalls.Load() - calls; n != 0 {
		t.Errorf("the refused token was sent again: %d calls", n)
	}
	s.mu.Lock()
	s.failStatus = 0
	s.mu.Unlock()
	if _, _, err := p.call(t.Context()); err != nil {
		t.Fatalf("once a token came: %v", err)
	}
	if n := s.apiCalls.Load() - calls; n != 1 {
		t.Errorf("%d calls once a token came, want 1", n)
	}
}

func TestOAuth2TokenEndpointGoesThroughTheGuard(t *testing.T) {
	s := newAuthServer(t)
	apis := NewAPIs()
	k := workflows.NewKinds()
	// The API is allowed, the token endpoint's address is not: the default guard
	// refuses loopback.
	Register(k, Options{Client: NewClient(NewGuard(nil)), APIs: apis})
	src := s.hcl("client_credentials") + `
workflow "w" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "crm.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := set.Workflow("w").Steps[0].Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "find", Attempt: 1})
	if err == nil || !strings.Contains(err.Error(), "OAuth2 token") {
		t.Fatalf("err = %v, want the token request refused", err)
	}
	if retry, _ := workflows.Retryable(err); retry {
		t.Errorf("a refused address is retried")
	}
	if n := s.requests.Load(); n != 0 {
		t.Errorf("the token endpoint got %d requests through the guard", n)
	}
}

// A token_url whose host is an ambiguous numeric one, in ASCII or written with
// ideographic dots, is refused as a step's url would be, though its address is allowed:
// the token request is checked at the host net/http dials.
func TestOAuth2TokenEndpointAmbiguousHostIsRefused(t *testing.T) {
	for _, host := range []string{"0177.0.0.1", "0177。0。0。1"} {
		t.Run(host, func(t *testing.T) {
			s := newAuthServer(t)
			k := workflows.NewKinds()
			Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: NewAPIs()})
			src := strings.Replace(s.hcl("client_credentials"), s.tokens.URL, strings.Replace(s.tokens.URL, "127.0.0.1", host, 1), 1) + `
workflow "w" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`
			set, diags := workflows.Load([]workflows.Source{{Name: "crm.hcl", Data: []byte(src)}}, k)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			_, err := set.Workflow("w").Steps[0].Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "find", Attempt: 1})
			if !errors.As(err, new(*BlockedError)) || !strings.Contains(err.Error(), "OAuth2 token") {
				t.Fatalf("err = %v, want the token request refused", err)
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Errorf("a refused host is retried")
			}
			if n := s.requests.Load() + s.apiCalls.Load(); n != 0 {
				t.Errorf("%d requests went through the guard", n)
			}
		})
	}
}

// A call that fetched its own token, which the API then refused, is not sent again
// with that token: a token fetched by the call itself came before the call had it.
func TestOAuth2RefusedTokenIsNeverSentAgain(t *testing.T) {
	s := newAuthServer(t)
	inner := s.api.Config.Handler
	var mu sync.Mutex
	var sent []string
	first := true
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		refuse := first
		first = false
		mu.Unlock()
		if refuse {
			s.revoke() // the provider ends every token as the first call comes
		}
		inner.ServeHTTP(w, r)
	})
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	if _, _, err := p.call(t.Context()); err != nil {
		t.Errorf("the call sent again: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 || sent[0] == sent[1] || s.requests.Load() != 2 {
		t.Errorf("sent with %v after %d token requests, want the refused token once and a new one", sent, s.requests.Load())
	}
}

// A call whose token is refused, and then the token fetched after that refusal too (a
// token endpoint whose tokens the API never takes), fails once, after one new token,
// with an error that says the new token was refused as well. The run history keeps
// both requests, the first 401 with its answer and the one sent again, each with its
// token [redacted], as a paginated step keeps its pages.
func TestOAuth2CallRefusedAgainSaysSo(t *testing.T) {
	s := newAuthServer(t)
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.apiCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error": "invalid token", "got": %q}`, r.Header.Get("Authorization"))
	})
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	c, _, err := p.call(t.Context())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("err = %v, want the API's 401", err)
	}
	want := "GET " + s.api.URL + "/api/customers: status 401 Unauthorized, expected 2xx (also with a token fetched after the first 401)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if retry, _ := workflows.Retryable(err); retry {
		t.Errorf("a 401 with a new token is retried")
	}
	if n, calls := s.requests.Load(), s.apiCalls.Load(); n != 2 || calls != 2 {
		t.Errorf("%d token requests and %d API calls, want 2 and 2: one new token, the call sent once more", n, calls)
	}
	if len(c.SentBefore) != 1 || c.Sent == nil {
		t.Fatalf("recorded %d requests before the last, want the first 401 and the call sent again", len(c.SentBefore))
	}
	first, again := c.SentBefore[0], c.Sent
	for _, r := range []*workflows.Request{first, again} {
		if r.Status != http.StatusUnauthorized || r.Attempt != 1 || r.Method != "GET" || r.URL != s.api.URL+"/api/customers" ||
			r.Headers["Authorization"] != "Bearer [redacted]" {
			t.Errorf("recorded %+v, want a 401 to GET /api/customers with its token redacted", r)
		}
	}
	if first.Response == nil || first.Response.Body != `{"error": "invalid token", "got": "Bearer [redacted]"}` {
		t.Errorf("the first 401's answer is recorded as %+v", first.Response)
	}
	if body, _ := se.Answer(); body != `{"error":"invalid token","got":"Bearer [redacted]"}` {
		t.Errorf("the answer kept with the error is %q", body)
	}
	recorded, _ := json.Marshal([]any{c.SentBefore, c.Sent, err.Error(), se.Body})
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.issued {
		if strings.Contains(string(recorded), tok) {
			t.Errorf("the token %s is recorded: %s", tok, recorded)
		}
	}
	if len(s.issued) != 2 {
		t.Errorf("%d tokens issued, want 2", len(s.issued))
	}
}

// A 401 that says the token lacks a scope (WWW-Authenticate: Bearer
// error="insufficient_scope") fetches no new token: one of the same grant would be
// refused as well, and every such call would cost the provider a token. The error says
// why, and the step's output and its recorded answer show the header.
func TestOAuth2InsufficientScopeFetchesNoToken(t *testing.T) {
	s := newAuthServer(t)
	const challenge = `Bearer realm="crm", error="insufficient_scope", scope="customers:write"`
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.apiCalls.Add(1)
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
	})
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	const want = "status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope customers:write; no new token fetched)"
	for range 3 {
		c, out, err := p.call(t.Context())
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Fatalf("err = %v, want it to end %q", err, want)
		}
		if h := out.(map[string]any)["headers"].(map[string]any); h["www-authenticate"] != challenge {
			t.Errorf("the output's headers %v, want www-authenticate %q", h, challenge)
		}
		if got := workflows.AnswerOf(out).Headers["Www-Authenticate"]; got != challenge {
			t.Errorf("the run history keeps WWW-Authenticate %q from the output, want %q", got, challenge)
		}
		if len(c.SentBefore) != 0 {
			t.Errorf("%d requests recorded before the last, want none", len(c.SentBefore))
		}
	}
	if n, calls := s.requests.Load(), s.apiCalls.Load(); n != 1 || calls != 3 {
		t.Errorf("%d token requests for %d calls, want 1 for 3", n, calls)
	}
}

// A refusal that stood while the token endpoint failed ends once the endpoint answers,
// even with the token refused (a provider that gives the same token while it lasts):
// the calls after take it, and do not ask the endpoint each.
func TestOAuth2StandingRefusalEndsWhenTheEndpointAnswers(t *testing.T) {
	s := newAuthServer(t)
	var fail atomic.Bool
	s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error": "temporarily_unavailable"}`)
			return
		}
		fmt.Fprint(w, `{"access_token": "same", "token_type": "Bearer", "expires_in": 3600}`)
	})
	var calls atomic.Int64
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 { // one 401, for nothing the token did
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	})
	clk := &clock{}
	p := newProcess(t, s, "client_credentials", nil, clk)
	if _, _, err := p.call(t.Context()); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if _, _, err := p.call(t.Context()); err == nil {
		t.Fatal("want the token endpoint's 503")
	}
	fail.Store(false)
	before := s.requests.Load()
	for range 5 {
		if _, _, err := p.call(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.requests.Load() - before; n != 1 {
		t.Errorf("%d token requests for 5 calls once the endpoint answered again, want 1", n)
	}
}

// A token kept in Redis is sealed under the client secret: once the secret changes
// (the file gives a new one), the token kept cannot be read, and a token is fetched
// with the new secret, kept in its place; the old secret cannot read that one either.
func TestOAuth2ChangedClientSecretFetchesANewToken(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		old := newProcess(t, s, "client_credentials", b.Client, clk)
		if _, _, err := old.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		keys, err := b.Client.Keys(t.Context(), "{hf:api:crm}:*:token").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v; want the token's one", keys, err)
		}
		sealed := b.Client.Get(t.Context(), keys[0]).Val()

		s.mu.Lock()
		s.secret = "client-secret-2"
		s.mu.Unlock()
		renewed := newProcess(t, s, "client_credentials", b.Client, clk)
		if _, _, err := renewed.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := s.requests.Load(); n != 2 {
			t.Fatalf("%d token requests, want a second one with the new secret", n)
		}
		s.mu.Lock()
		grants := slices.Clone(s.grants)
		s.mu.Unlock()
		if grants[1] != "client_credentials" {
			t.Errorf("the second token request was a %s grant", grants[1])
		}
		if now := b.Client.Get(t.Context(), keys[0]).Val(); now == sealed || now == "" {
			t.Error("the token kept was not replaced by the one fetched with the new secret")
		}
		if _, _, err := renewed.call(t.Context()); err != nil || s.requests.Load() != 2 {
			t.Errorf("a call with the new secret once its token is kept: %v, %d token requests", err, s.requests.Load())
		}
	})
}

// While a process fetches a token, {hf:api:NAME}:HASH:lock holds a random value
// naming it, living tokenLockTTL (5 s) unless extended; it is gone once the token is
// kept.
func TestOAuth2FetchLockLivesAtMost5Seconds(t *testing.T) {
	if tokenLockTTL != 5*time.Second || tokenFetchMax != 30*time.Second {
		t.Errorf("tokenLockTTL is %v and tokenFetchMax %v, docs/security.md says 5 and 30 seconds", tokenLockTTL, tokenFetchMax)
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		gate := make(chan struct{})
		s.gate = gate
		p := newProcess(t, s, "client_credentials", b.Client, &clock{})
		done := make(chan error, 1)
		go func() {
			_, _, err := p.call(t.Context())
			done <- err
		}()
		var lock string
		testutil.Eventually(t, 10*time.Second, "the fetch's lock", func() bool {
			keys, _ := b.Client.Keys(t.Context(), "{hf:api:crm}:*:lock").Result()
			if len(keys) == 1 {
				lock = keys[0]
			}
			return lock != ""
		})
		ttl := b.Client.PTTL(t.Context(), lock).Val()
		if ttl <= 0 || ttl > tokenLockTTL {
			t.Errorf("the lock lives %v, want at most %v", ttl, tokenLockTTL)
		}
		if v := b.Client.Get(t.Context(), lock).Val(); len(v) != 24 || strings.Trim(v, "0123456789abcdef") != "" {
			t.Errorf("the lock holds %q, want a random value", v)
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := b.Client.Exists(t.Context(), lock).Val(); n != 0 {
			t.Error("the lock is still held once the token is kept")
		}
	})
}

// A call sent again after a 401 is a call like any other to the api's limits: the
// provider sees no more calls than the rate_limit lets start, the calls sent again
// counted, from every process together. It waits for its turn within its attempt, and
// takes no second slot of the concurrency: the call holds one already. On a
// redis-server only: the calls wait in real time, which miniredis's clock does not
// follow.
func TestOAuth2CallSentAgainIsAdmittedByTheLimits(t *testing.T) {
	const rate, burst = 10, 5
	b := redistest.Real(t)
	s := newAuthServer(t)
	s.limits = fmt.Sprintf("rate_limit = \"%d/s\"\nburst = %d\nconcurrency = %d", rate, burst, burst)
	var mu sync.Mutex
	var at []time.Time
	var inflight []int64
	revoked, all := 0, make(chan struct{}) // the first token, refused once every call has it
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.Client.ZCard(r.Context(), "{hf:api:crm}:inflight").Val()
		first := r.Header.Get("Authorization") == "Bearer access-token-1"
		mu.Lock()
		at, inflight = append(at, time.Now()), append(inflight, n)
		if first {
			if revoked++; revoked == burst {
				close(all)
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first {
			select {
			case <-all:
			case <-time.After(5 * time.Second):
			}
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_token"}`)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	a, c := twoProcesses(t, b, s, "client_credentials", &clock{})
	// The burst, every call refused once and sent again, within a deadline: a call
	// sent again that waited for a second slot of the concurrency would wait on itself.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			if _, _, err := []*process{a, c}[i%2].call(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(at) != 2*burst || s.requests.Load() != 2 {
		t.Fatalf("%d calls after %d token requests, want %d after 2: each call refused once, then sent again with a new token",
			len(at), s.requests.Load(), 2*burst)
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	// The bucket lets burst calls start at once, then one per interval: in any
	// stretch of time, no more than burst calls and one per interval in it (and one
	// more for the clocks' rounding).
	interval := time.Second / rate
	for i := range at {
		for j := i + 1; j < len(at); j++ {
			if most := burst + 1 + int(at[j].Sub(at[i])/interval); j-i+1 > most {
				t.Fatalf("the provider saw %d calls in %s, want at most %d at %d/s: the calls sent again are not counted",
					j-i+1, at[j].Sub(at[i]).Round(time.Millisecond), most, rate)
			}
		}
	}
	for i, n := range inflight {
		if n < 1 || n > burst {
			t.Errorf("call %d came with %d calls in flight, want 1 to %d: a call sent again keeps its slot and takes none", i+1, n, burst)
		}
	}
}

// A process that died while it fetched a token left its lock, never extended: the
// other processes' calls wait for it no longer than its short time to live, well
// before the 30 s of the longest fetch, and one of them fetches the token.
func TestOAuth2FetchLockOfADeadProcessExpiresSoon(t *testing.T) {
	const soon = 10 * time.Second // well before tokenFetchMax
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		p := newProcess(t, s, "client_credentials", b.Client, &clock{})
		ts := p.apis.tokenSource(p.wf.Steps[0].Action.(*HTTP).api)
		// As a process takes it, then dies mid-fetch.
		if err := b.Client.SetNX(t.Context(), ts.lockKey, "0123456789abcdef01234567", tokenLockTTL).Err(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), soon+5*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, _, err := p.call(ctx)
			done <- err
		}()
		if b.Mini != nil { // its keys expire as the test moves its clock
			testutil.Eventually(t, 5*time.Second, "the call waiting for the lock", func() bool {
				return s.requests.Load() == 0 && b.Client.Exists(t.Context(), ts.lockKey).Val() == 1
			})
			b.Mini.FastForward(soon)
		}
		if err := <-done; err != nil {
			t.Fatalf("the call waiting for a dead process's fetch: %v", err)
		}
		if n := s.requests.Load(); n != 1 {
			t.Errorf("%d token requests, want 1", n)
		}
	})
}

// A fetch that takes longer than the lock's time to live keeps its lock, extended,
// while it goes on: no other process fetches meanwhile (with the refresh_token grant,
// a second fetch would spend the refresh token the first one rotates), and the token
// is kept. On a redis-server only: miniredis's keys expire as the test moves its clock,
// not with time.
func TestOAuth2FetchLockIsExtendedWhileTheFetchGoesOn(t *testing.T) {
	b := redistest.Real(t)
	f := fetchHoldingItsLock(t, b, 900*time.Millisecond) // extended every 300ms: a stall of 600ms loses it
	s, gate, c, ts, first := f.s, f.gate, f.c, f.ts, f.first
	second := make(chan error, 1)
	go func() {
		_, _, err := c.call(t.Context())
		second <- err
	}()
	time.Sleep(2700 * time.Millisecond) // the fetch outlives the lock's time to live three times over
	if ttl := b.Client.PTTL(t.Context(), ts.lockKey).Val(); ttl <= 0 || ttl > 900*time.Millisecond {
		t.Errorf("the lock of a fetch going on lives %v more, want up to 900ms", ttl)
	}
	close(gate)
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.requests.Load(); n != 1 {
		t.Errorf("%d token requests, want 1: the other process took the lock of a fetch going on", n)
	}
	if b.Client.Exists(t.Context(), ts.lockKey).Val() != 0 {
		t.Error("the lock is still held once the token is kept")
	}
}

// A token endpoint's 200 that gives no token says what was wrong with it: not JSON
// (and what it is), JSON that does not parse, more than is read of it (1 MiB), the
// answer's OAuth2 error, or no access_token. The message quotes nothing else of the answer, which may hold a token
// or repeat the client's credentials.
func TestOAuth2UnusableTokenAnswerSaysWhy(t *testing.T) {
	tests := []struct {
		name, contentType, body, want string
	}{
		{"cut short", "application/json", `{"access_token":"tok-secret-123","expires_`,
			"the answer's JSON does not parse: it ends early (cut short?)"},
		{"over 1 MiB", "application/json", `{"access_token":"tok-secret-123","pad":"` + strings.Repeat("a", 1<<20) + `"}`,
			"the token endpoint's answer is over 1 MiB, more than hookflow reads of it"},
		{"html", "text/html; charset=utf-8", `<html><body>tok-secret-123</body></html>`,
			"the answer is not JSON: its Content-Type is text/html"},
		{"no content type", "", `tok-secret-123`, "the answer is not JSON, and has no Content-Type"},
		{"bad JSON", "application/json", `{"access_token" "tok-secret-123"}`, "the answer's JSON does not parse: at byte 17"},
		{"empty", "application/json", ``, "the answer is empty"},
		{"OAuth2 error", "application/json", `{"error":"invalid_scope","error_description":"scope not allowed; got client-secret-1"}`,
			"status 200 OK, without an access_token: invalid_scope (scope not allowed; got [redacted])"},
		{"no access_token", "application/json", `{"token_type":"Bearer","expires_in":3600,"refresh_token":"tok-secret-123"}`,
			"the answer holds no access_token"},
		{"access_token not a string", "application/json", `{"access_token":12345678}`,
			"the answer's access_token is a JSON number, not a string"},
		{"not an object", "application/json", `["tok-secret-123"]`, "the answer is a JSON array, not an object"},
		{"expires_in no number", "application/json", `{"access_token":"tok-secret-123","expires_in":"abc"}`,
			"the answer's expires_in is not a number"},
		{"expires_in in words", "application/json", `{"access_token":"tok-secret-123","expires_in":"soon"}`,
			"the answer's expires_in is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAuthServer(t)
			s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.requests.Add(1)
				w.Header()["Content-Type"] = nil // no type guessed from the body
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				fmt.Fprint(w, tt.body)
			})
			p := newProcess(t, s, "client_credentials", nil, &clock{})
			_, _, err := p.call(t.Context())
			var te *TokenError
			if !errors.As(err, &te) || te.Status != http.StatusOK {
				t.Fatalf("err = %v, want the token endpoint's answer refused", err)
			}
			want := `api "crm": getting an OAuth2 token from ` + s.tokens.URL + `/oauth/token: ` + tt.want
			if err.Error() != want {
				t.Errorf("err = %q\nwant %q", err, want)
			}
			for _, v := range []string{"tok-secret-123", "12345678", "client-secret-1"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows %s: %v", v, err)
				}
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Errorf("a 200 without a token is retried")
			}
		})
	}
}

// A token whose expires_in is past what a time.Duration holds is kept for a year, the
// most a token is, rather than not at all (every call fetching one), and fetched again
// ahead of that year's end.
func TestOAuth2HugeExpiresInIsKeptAYear(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.expiresIn = 100000000000000
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "client_credentials", clk)
		callMany(t, 10, a, c)
		if n := s.requests.Load(); n != 1 {
			t.Fatalf("%d token requests for 10 calls, want 1", n)
		}
		if ttl := b.Client.PTTL(t.Context(), a.apis.tokenSource(a.wf.Steps[0].Action.(*HTTP).api).key).Val(); ttl < 364*24*time.Hour || ttl > 365*24*time.Hour {
			t.Errorf("the token is kept in Redis for %v more, want a year", ttl)
		}
		clk.advance(300 * 24 * time.Hour)
		callMany(t, 10, a, c)
		if n := s.requests.Load(); n != 1 {
			t.Errorf("%d token requests 300 days on, want 1", n)
		}
		clk.advance(30 * 24 * time.Hour) // past 90% of a year
		callMany(t, 10, a, c)
		if n := s.requests.Load(); n != 2 {
			t.Errorf("%d token requests 330 days on, want 2", n)
		}
	})
}

// A fetch whose lock is found not its own any more (it expired while Redis did not
// answer, and another process took it) is cut short: with the refresh_token grant, the
// other process's fetch would spend the same refresh token. On a redis-server only, as
// above.
func TestOAuth2FetchEndsWhenItsLockIsLost(t *testing.T) {
	b := redistest.Real(t)
	f := fetchHoldingItsLock(t, b, 300*time.Millisecond)
	defer close(f.gate)
	ts, first := f.ts, f.first
	b.Client.Set(t.Context(), ts.lockKey, "another process", time.Minute) // taken over
	select {
	case err := <-first:
		if err == nil || !strings.Contains(err.Error(), "the token lock was lost while fetching") {
			t.Errorf("the call: %v, want the lock lost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fetch went on with its lock lost")
	}
	if got := b.Client.Get(t.Context(), ts.lockKey).Val(); got != "another process" {
		t.Errorf("the lock is %q, want the other process's left as it was", got)
	}
}

// heldFetch is a token fetch of process a held at the token endpoint until gate is
// closed, holding its lock; first gets a's call's end. c is a second process.
type heldFetch struct {
	s     *authServer
	gate  chan struct{}
	a, c  *process
	ts    *tokenSource
	first chan error
}

// fetchHoldingItsLock starts a's call, whose token fetch waits at the endpoint, with
// the fetch lock living ttl in both processes, and returns once the fetch holds it.
func fetchHoldingItsLock(t *testing.T, b *redistest.Backend, ttl time.Duration) *heldFetch {
	t.Helper()
	f := &heldFetch{s: newAuthServer(t), gate: make(chan struct{}), first: make(chan error, 1)}
	f.s.gate = f.gate
	f.a, f.c = twoProcesses(t, b, f.s, "client_credentials", &clock{})
	for _, p := range []*process{f.a, f.c} {
		p.apis.lockTTL = ttl
	}
	f.ts = f.a.apis.tokenSource(f.a.wf.Steps[0].Action.(*HTTP).api)
	go func() {
		_, _, err := f.a.call(t.Context())
		f.first <- err
	}()
	testutil.Eventually(t, 5*time.Second, "a's fetch holding the lock", func() bool {
		return b.Client.Exists(t.Context(), f.ts.lockKey).Val() == 1
	})
	return f
}

// expiring makes s's API refuse a token once its lifetime has passed by clk, as a
// provider does; after, when set, is called with the count of the token requests once
// each is answered.
func expiring(s *authServer, clk *clock, lifetime time.Duration, after func(n int64)) {
	var mu sync.Mutex
	issued := map[string]time.Time{}
	tokens, api := s.tokens.Config.Handler, s.api.Config.Handler
	s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens.ServeHTTP(w, r)
		s.mu.Lock()
		current := s.current
		s.mu.Unlock()
		mu.Lock()
		issued[current] = clk.now()
		mu.Unlock()
		if after != nil {
			after(s.requests.Load())
		}
	})
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		at, ok := issued[token]
		mu.Unlock()
		if ok && clk.now().Sub(at) > lifetime {
			s.apiCalls.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_token","error_description":"expired"}`)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// A call refused with a 401 waits for its turn of the rate_limit to be sent again; a
// token that expired during that wait is not the one sent: the call takes the current
// one, fetched anew when none is fresh, once its turn has come. On a redis-server
// only: the call waits in real time, which miniredis's clock does not follow.
func TestOAuth2CallSentAgainAfterItsTurnTakesAFreshToken(t *testing.T) {
	b := redistest.Real(t)
	s := newAuthServer(t)
	s.expiresIn = 6
	s.limits = `rate_limit = "1/s"`
	clk := &clock{}
	// The new token is fetched, then the call waits its turn: 7 s by the clocks of the
	// tokens and the API, past the new token's 6 s.
	expiring(s, clk, 6*time.Second, func(n int64) {
		if n == 2 {
			clk.advance(7 * time.Second)
		}
	})
	var first atomic.Bool
	api := s.api.Config.Handler
	s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			s.revoke() // the provider ends the first token as the call comes
		}
		api.ServeHTTP(w, r)
	})
	p := newProcess(t, s, "client_credentials", b.Client, clk)
	c, _, err := p.call(t.Context())
	if err != nil {
		t.Fatalf("the call sent again after its turn: %v", err)
	}
	if n := s.requests.Load(); n != 3 {
		t.Errorf("%d token requests, want 3: the first, one after the 401, one after the wait", n)
	}
	if len(c.SentBefore) != 1 || c.Sent == nil || c.Sent.Status != http.StatusOK {
		t.Errorf("recorded %d requests before the last, want the 401 then the call sent again, answered 200", len(c.SentBefore))
	}
}

// A Redis that loses the rotated refresh token it kept (restarted without
// persistence, or a failover that lost the last writes, leaving an older one) locks
// no process out: the refresh token a process holds, the latest it saw, goes on the
// rotation, not the file's nor the older one, long rotated away; and it is kept in
// Redis again, for every process.
func TestOAuth2RefreshTokenLostByRedisIsTakenFromAProcess(t *testing.T) {
	for _, loss := range []string{"flushed", "older"} {
		t.Run(loss, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				s := newAuthServer(t)
				clk := &clock{}
				p := newProcess(t, s, "refresh_token", b.Client, clk)
				chain(t, s, p, clk)
				key := p.apis.tokenSource(p.wf.Steps[0].Action.(*HTTP).api).key
				before := b.Client.Get(t.Context(), key).Val()
				if _, _, err := p.call(t.Context()); err != nil {
					t.Fatal(err)
				}
				clk.advance(55 * time.Second)
				switch loss {
				case "flushed":
					if err := b.Client.FlushAll(t.Context()).Err(); err != nil {
						t.Fatal(err)
					}
				case "older":
					if err := b.Client.Set(t.Context(), key, before, 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
				s.mu.Lock()
				current := s.refresh
				s.refreshes = nil
				s.mu.Unlock()
				if _, _, err := p.call(t.Context()); err != nil {
					t.Fatalf("a call after Redis lost the refresh token: %v", err)
				}
				if got := s.sentRefreshTokens(); !slices.Equal(got, []string{current}) {
					t.Errorf("the endpoint got %q, want the process's own refresh token %q", got, current)
				}
				// A process that saw none of it takes the rotation from Redis.
				clk.advance(55 * time.Second)
				late := newProcess(t, s, "refresh_token", b.Client, clk)
				if _, _, err := late.call(t.Context()); err != nil {
					t.Fatalf("a process started after: %v", err)
				}
			})
		})
	}
}

// A token endpoint slower than the step's timeout does not lose what it answers: the
// fetch goes on once the step stops waiting for it, and keeps the token and the
// refresh token it rotated, which the next refresh sends.
func TestOAuth2FetchOutlivesTheStepThatStartedIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate, s.expiresIn = true, 60
		gate := make(chan struct{})
		s.gate = gate
		clk := &clock{}
		p := newProcess(t, s, "refresh_token", b.Client, clk)
		ts := p.apis.tokenSource(p.wf.Steps[0].Action.(*HTTP).api)
		arrived, tokens := make(chan struct{}, 1), s.tokens.Config.Handler
		s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case arrived <- struct{}{}:
			default:
			}
			tokens.ServeHTTP(w, r)
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, err := p.call(ctx)
			done <- err
		}()
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("no token request")
		}
		cancel() // the step's timeout, while the endpoint has the request
		if err := <-done; err == nil {
			t.Fatal("the call passed without its token")
		}
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate) // the endpoint rotates the refresh token as it answers
		testutil.Eventually(t, 5*time.Second, "the answer and the lock released", func() bool {
			s.mu.Lock()
			rotated := s.refresh != "refresh-0"
			s.mu.Unlock()
			return rotated && b.Client.Exists(t.Context(), ts.lockKey).Val() == 0
		})
		s.sentRefreshTokens()
		clk.advance(55 * time.Second)
		if _, _, err := p.call(t.Context()); err != nil {
			t.Fatalf("the refresh after: %v", err)
		}
		if got := s.sentRefreshTokens(); !slices.Equal(got, []string{"refresh-1"}) {
			t.Errorf("the endpoint got %q, want the refresh token it rotated in the answer the step did not wait for", got)
		}
	})
}

// A refresh token the endpoint refused as invalid_grant is not sent again, by any
// process: while locked out, the steps' attempts ask the endpoint nothing more.
func TestOAuth2RefusedRefreshTokenIsNotSentAgainByAnyProcess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.mu.Lock()
		s.refresh = "revoked" // the file's refresh token is refused
		s.mu.Unlock()
		a, c := twoProcesses(t, b, s, "refresh_token", &clock{})
		for i := range 10 {
			_, _, err := []*process{a, c}[i%2].call(t.Context())
			var te *TokenError
			if !errors.As(err, &te) || te.Code != "invalid_grant" {
				t.Fatalf("call %d: err = %v, want the endpoint's invalid_grant", i+1, err)
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Errorf("call %d: an invalid_grant is retried", i+1)
			}
		}
		if n := s.requests.Load(); n != 1 {
			t.Errorf("%d token requests for 10 calls from two processes, want 1: the refused refresh token is not sent again", n)
		}
		for _, k := range b.Keys(t.Context(), "*") {
			if strings.Contains(k, "refresh-0") {
				t.Errorf("key %q holds the refresh token", k)
			}
		}
	})
}

// A token endpoint's 429 or 503 with a Retry-After holds every process's token
// fetches that long: the steps that need a token are held back, counting no attempt,
// and ask the endpoint nothing meanwhile.
func TestOAuth2TokenEndpointRetryAfterHoldsEveryProcess(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				s := newAuthServer(t)
				s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s.requests.Add(1)
					w.Header().Set("Retry-After", "60")
					w.WriteHeader(status)
				})
				a, c := twoProcesses(t, b, s, "client_credentials", &clock{})
				_, _, err := a.call(t.Context())
				var te *TokenError
				if !errors.As(err, &te) || te.Status != status || te.RetryAfter != time.Minute {
					t.Fatalf("err = %v, want the endpoint's %d, retried after a minute", err, status)
				}
				for _, p := range []*process{a, c} {
					_, _, err := p.call(t.Context())
					var th *workflows.Throttled
					if !errors.As(err, &th) || th.Reason != "retry_after" || th.After <= 0 || th.After > time.Minute {
						t.Errorf("err = %v, want the step held back for the rest of the minute", err)
					}
				}
				if n := s.requests.Load(); n != 1 {
					t.Errorf("%d token requests, want 1: the others wait for the Retry-After", n)
				}
			})
		})
	}
}

// Once the endpoint refuses the refresh token in the file, no token can come: the
// error says so, and what to do, when the endpoint answers and after, when it is not
// asked again.
func TestOAuth2LockoutSaysWhatToDo(t *testing.T) {
	s := newAuthServer(t)
	s.mu.Lock()
	s.refresh = "revoked"
	s.mu.Unlock()
	p := newProcess(t, s, "refresh_token", nil, &clock{})
	const todo = "; the refresh_token in the file was refused (revoked, or rotated away and the token after it lost): " +
		"consent again to get a new one, put it where the file reads it from (its environment variable), " +
		"and restart every hookflow process sharing the Redis: a reload does not read new environment values"
	for _, want := range []string{
		"status 400 Bad Request: invalid_grant (refresh token already used)" + todo,
		"not asked again: the endpoint refused this refresh token before (invalid_grant)" + todo,
	} {
		_, _, err := p.call(t.Context())
		if want = `api "crm": getting an OAuth2 token from ` + s.tokens.URL + `/oauth/token: ` + want; err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
	}
}

// From a 401 on, no call of the process takes the token refused: while the refresh it
// started goes on, the calls after it wait for its token.
func TestOAuth2TokenRefusedIsTakenByNoCallWhileItsRefreshGoesOn(t *testing.T) {
	s := newAuthServer(t)
	p := newProcess(t, s, "client_credentials", nil, &clock{})
	if _, _, err := p.call(t.Context()); err != nil {
		t.Fatal(err)
	}
	gate, arrived, tokens := make(chan struct{}), make(chan struct{}, 1), s.tokens.Config.Handler
	s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-gate
		tokens.ServeHTTP(w, r)
	})
	s.revoke()
	done := make(chan error, 1)
	go func() {
		_, _, err := p.call(t.Context())
		done <- err
	}()
	select {
	case <-arrived: // refused, the call is fetching a new token
	case <-time.After(5 * time.Second):
		t.Fatal("no token request after the 401")
	}
	ts := p.apis.tokenSource(p.wf.Steps[0].Action.(*HTTP).api)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // a call that waits gets nothing
	if tok, err := ts.token(ctx, p.wf.Steps[0].Action.(*HTTP).client, refusal{}); err == nil {
		t.Errorf("a call after the 401 took %s, the token refused, without waiting for the refresh", tok.Access)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tok, err := ts.token(t.Context(), p.wf.Steps[0].Action.(*HTTP).client, refusal{})
	if err != nil || tok.Access != "access-token-2" {
		t.Errorf("a call after the refresh takes %v, %v; want the new token", tok, err)
	}
}

// While the token endpoint's Retry-After holds the fetches, a token that has not
// expired serves; a call refused with a 401 meanwhile fails its attempt, retried once
// the wait is over, rather than held back as a call that sent nothing.
func TestOAuth2TokenEndpointRetryAfterLeavesAValidTokenInUse(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.expiresIn = 60
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "client_credentials", clk)
		callMany(t, 2, a, c)
		var busy atomic.Bool
		tokens := s.tokens.Config.Handler
		s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !busy.Load() {
				tokens.ServeHTTP(w, r)
				return
			}
			s.requests.Add(1)
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		busy.Store(true)
		clk.advance(55 * time.Second) // due for its refresh, not expired
		if _, _, err := a.call(t.Context()); err == nil {
			t.Fatal("want the endpoint's 503 to the refresh")
		}
		if _, _, err := c.call(t.Context()); err != nil {
			t.Errorf("a call with a token that has not expired, while the endpoint asks to wait: %v", err)
		}
		s.revoke()
		_, _, err := c.call(t.Context())
		if retry, after := workflows.Retryable(err); err == nil || !retry || after <= 0 || after > time.Minute {
			t.Errorf("err = %v (retried %v after %v), want the attempt failed, retried once the wait is over", err, retry, after)
		}
		if errors.As(err, new(*workflows.Throttled)) {
			t.Errorf("err = %v: a call sent and refused is held back as one that sent nothing", err)
		}
		if n := s.requests.Load(); n != 2 {
			t.Errorf("%d token requests, want 2: the first, and the refresh answered 503", n)
		}
	})
}
