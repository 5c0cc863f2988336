package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// billing is a stand-in for an API behind an OAuth2 token endpoint, both on one
// origin, as an Auth0-style API's audience is its own origin.
type billing struct {
	srv *httptest.Server
	// tokenStatus, when set, is the status every token request is answered with.
	tokenStatus atomic.Int64
	// apiStatus, when set, is the status every call of the API is answered with.
	apiStatus            atomic.Int64
	tokenCalls, apiCalls atomic.Int64
}

func newBilling(t *testing.T) *billing {
	b := &billing{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			n := b.tokenCalls.Add(1)
			if st := b.tokenStatus.Load(); st != 0 {
				w.WriteHeader(int(st))
				fmt.Fprint(w, `{"error":"temporarily_unavailable"}`)
				return
			}
			if got := r.FormValue("audience"); got != b.srv.URL {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":"invalid_request","error_description":"audience %q"}`, got)
				return
			}
			fmt.Fprintf(w, `{"access_token":"access-token-%d","token_type":"Bearer","expires_in":3600}`, n)
			return
		}
		b.apiCalls.Add(1)
		if st := b.apiStatus.Load(); st != 0 {
			w.WriteHeader(int(st))
			fmt.Fprint(w, `{"error":"invalid_token"}`)
			return
		}
		switch r.URL.Path {
		case "/api/v2/invoices":
			fmt.Fprintf(w, `{"id":"in_1","links":{"pdf":"%s/api/v2/invoices/in_1.pdf"}}`, b.srv.URL)
		case "/api/v2/invoices/in_1.pdf":
			fmt.Fprint(w, `{"pdf":true}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// api is the billing api block, its audience the API's own origin, its steps retried
// as retry says.
func (b *billing) api(retry string) string {
	return strings.NewReplacer("SRV", b.srv.URL, "RETRY", retry).Replace(`
api "billing" {
  base_url = "SRV/api/v2"
  auth "oauth2" {
    token_url     = "SRV/oauth/token"
    client_id     = "hookflow"
    client_secret = "client-secret-1"
    audience      = "SRV"
  }
  RETRY
}`)
}

// An OAuth2 audience names the API, it is no credential: with one equal to the api's
// own origin, the run history shows the calls' URLs as they were, and a later step
// calls a URL the API answered with, read from the history.
func TestOAuth2AudienceIsNotHidden(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		b := newBilling(t)
		e, set := httpEngine(t, rb, b.api("")+`
workflow "invoice" {
  step "http" "create" {
    api  = "billing"
    url  = "/invoices"
    json = { amount = 5 }
  }
  step "http" "pdf" {
    url = "{{ steps.create.body.links.pdf }}"
  }
}`)
		id, err := e.Start(context.Background(), set.Workflow("invoice"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != "succeeded" {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		for i, want := range []string{b.srv.URL + "/api/v2/invoices", b.srv.URL + "/api/v2/invoices/in_1.pdf"} {
			if s := r.Steps[i]; len(s.Requests) != 1 || s.Requests[0].URL != want {
				t.Errorf("step %s recorded %+v, want one request to %s", s.Name, s.Requests, want)
			}
		}
		if got := fmt.Sprint(r.Steps[0].Output); strings.Contains(got, "[redacted]") {
			t.Errorf("create's output hides the audience: %s", got)
		}
	})
}
