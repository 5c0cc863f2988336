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
	// tokenFails says which token requests, counted from 1, fail with a 503; nil
	// for none.
	tokenFails func(n int64) bool
	// refused is the access token the API answers 401, as revoked; "" for none.
	refused              string
	tokenCalls, apiCalls atomic.Int64
}

func newBilling(t *testing.T, refused string, tokenFails func(n int64) bool) *billing {
	b := &billing{refused: refused, tokenFails: tokenFails}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			n := b.tokenCalls.Add(1)
			if b.tokenFails != nil && b.tokenFails(n) {
				w.WriteHeader(http.StatusServiceUnavailable)
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
		if b.refused != "" && r.Header.Get("Authorization") == "Bearer "+b.refused {
			w.WriteHeader(http.StatusUnauthorized)
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
		b := newBilling(t, "", nil)
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

// A POST the API refused for its OAuth2 token stays in the step's history when no new
// token came to send it again, through the attempts after it that sent nothing (their
// token did not come either) to the step's end, with the request of an attempt that
// did send after them.
func TestOAuth2RefusedCallStaysInTheHistory(t *testing.T) {
	tests := []struct {
		name       string
		tokenFails func(n int64) bool // the first token comes, and is refused
		status     RunStatus
		statuses   []int // of the requests recorded, attempt by attempt
	}{
		{"no token comes again", func(n int64) bool { return n > 1 }, RunFailed, []int{401}},
		{"a token comes at the last attempt", func(n int64) bool { return n == 2 || n == 3 }, RunSucceeded, []int{401, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
				b := newBilling(t, "access-token-1", tt.tokenFails)
				e, set := httpEngine(t, rb, b.api(`retry {
    attempts = 3
    initial  = "10ms"
  }`)+`
workflow "invoice" {
  step "http" "create" {
    api  = "billing"
    url  = "/invoices"
    json = { amount = 5 }
  }
}`)
				id, err := e.Start(context.Background(), set.Workflow("invoice"), event(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				r := waitRun(t, e, id)
				s := r.Steps[0]
				if r.Status != tt.status || s.Attempts != 3 {
					t.Fatalf("run %s after %d attempts (%s), want %s after 3", r.Status, s.Attempts, r.Error, tt.status)
				}
				if len(s.Requests) != len(tt.statuses) {
					t.Fatalf("recorded %d requests, want %d: %+v", len(s.Requests), len(tt.statuses), s.Requests)
				}
				for i, q := range s.Requests {
					if attempt := []int{1, 3}[i]; q.Attempt != attempt || q.Method != "POST" || q.URL != b.srv.URL+"/api/v2/invoices" ||
						q.Status != tt.statuses[i] || q.Headers["Authorization"] != "Bearer [redacted]" {
						t.Errorf("request %d: %+v, want attempt %d's POST, answered %d", i+1, q, attempt, tt.statuses[i])
					}
				}
				if first := s.Requests[0]; !strings.Contains(first.Error, "status 503") || first.Response == nil ||
					first.Response.Body != `{"error":"invalid_token"}` {
					t.Errorf("the refused POST's error and answer: %q, %+v", first.Error, first.Response)
				}
			})
		})
	}
}
