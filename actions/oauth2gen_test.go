package actions

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// sourceOf returns the token source of p's step.
func sourceOf(p *process) *tokenSource { return p.apis.tokenSource(p.wf.Steps[0].Action.(*HTTP).api) }

// A token an older build kept, with no Gen, during a rolling upgrade: the newer
// processes count on from the highest Gen they saw, and one that remembers an older
// refresh token does not keep it over the current one, nor send it.
func TestOAuth2TokenOfNoGenDoesNotRestartTheCount(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate, s.expiresIn = true, 60
		clk := &clock{}
		n1, n2 := twoProcesses(t, b, s, "refresh_token", clk)
		for range 4 { // both see every Gen
			if _, _, err := n1.call(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := n2.call(t.Context()); err != nil {
				t.Fatal(err)
			}
			clk.advance(55 * time.Second)
		}
		// An older build refreshes, and keeps a token of no Gen.
		old := newProcess(t, s, "refresh_token", b.Client, clk)
		ots := sourceOf(old)
		s.mu.Lock()
		cur := s.refresh
		s.mu.Unlock()
		tok, err := ots.fetch(t.Context(), http.DefaultClient, cur)
		if err != nil {
			t.Fatal(err)
		}
		owner, ok, err := ots.lock(t.Context())
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := ots.store(t.Context(), owner, tok); err != nil {
			t.Fatal(err)
		}
		if _, _, err := n1.call(t.Context()); err != nil { // n1 takes it
			t.Fatal(err)
		}
		clk.advance(55 * time.Second)
		if _, _, err := n1.call(t.Context()); err != nil { // and refreshes it
			t.Fatal(err)
		}
		clk.advance(55 * time.Second)
		s.mu.Lock()
		want := s.refresh
		s.refreshes = nil
		s.mu.Unlock()
		_, _, err = n2.call(t.Context())
		if got := s.sentRefreshTokens(); !slices.Equal(got, []string{want}) {
			t.Errorf("n2 sent %q, want only the current %q (err %v)", got, want, err)
		}
	})
}

// A changed client_secret, on a reload, makes the kept token unreadable: the rotated
// refresh token the process holds is used, not the file's, rotated away.
func TestOAuth2ChangedClientSecretKeepsTheRotatedRefreshToken(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		p := newProcess(t, s, "refresh_token", b.Client, clk)
		chain(t, s, p, clk)
		s.mu.Lock()
		s.secret = "client-secret-2" // the provider takes the new secret
		s.mu.Unlock()
		reloaded := reload(t, s, p.apis)
		if _, _, err := reloaded.call(t.Context()); err != nil {
			t.Errorf("after the client secret changed: %v", err)
		}
	})
}

// reload loads the workflows again in the process whose apis are apis, with s's
// configuration as it is now.
func reload(t *testing.T, s *authServer, apis *APIs) *process {
	t.Helper()
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
	src := s.hcl("refresh_token") + `
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

// A token fetch that panics (in a client's transport) fails the call, as a step's
// panic fails its attempt, rather than end the process; the lock is released.
func TestOAuth2TokenFetchPanicFailsTheCall(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		p := newProcess(t, s, "client_credentials", b.Client, &clock{})
		ts := sourceOf(p)
		broken := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
			panic("the transport broke")
		})}
		_, err := ts.token(t.Context(), broken, refusal{})
		if err == nil || !strings.Contains(err.Error(), "internal error: the transport broke") {
			t.Errorf("the call: %v, want the panic as its error", err)
		}
		if b.Client.Exists(t.Context(), ts.lockKey).Val() != 0 {
			t.Error("the token lock is still held")
		}
		if _, _, err := p.call(t.Context()); err != nil {
			t.Errorf("the next call: %v", err)
		}
	})
}

// A call that took its token, then waited for its turn while another call got a 401
// for that token, is not sent with it, though it is not due for its refresh: the
// call takes a token fetched after the 401.
func TestOAuth2TokenRefusedWhileTheCallWaitedIsNotSent(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		clk := &clock{}
		p := newProcess(t, s, "client_credentials", b.Client, clk)
		h := p.wf.Steps[0].Action.(*HTTP)
		tok, err := h.tokens.token(t.Context(), h.client, refusal{})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(t.Context(), "GET", s.api.URL+"/api/customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Access)
		waiting := &prepared{req: req, token: tok.Access, taken: clk.now(), refreshAt: tok.RefreshAt}
		// Another call gets a 401 for it; no token comes, the endpoint failing.
		s.revoke()
		s.mu.Lock()
		s.failStatus = 500
		s.mu.Unlock()
		if _, err := h.tokens.token(t.Context(), h.client, refusal{token: tok.Access, taken: clk.now()}); err == nil {
			t.Fatal("a token came from a failing endpoint")
		}
		s.mu.Lock()
		s.failStatus = 0
		s.mu.Unlock()
		if _, err := h.renew(t.Context(), waiting, nil, refusal{}); err != nil {
			t.Fatal(err)
		}
		if got := waiting.req.Header.Get("Authorization"); got == "Bearer "+tok.Access {
			t.Error("the call is sent with the token another call got a 401 for")
		}
	})
}
