package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// oauthCRM is a stand-in for the CRM of examples/oauth-crm and its token endpoint: it
// counts token requests, and the CRM takes only the access token issued last.
type oauthCRM struct {
	tokens   *httptest.Server
	crm      *fakeAPI
	requests atomic.Int64
	mu       sync.Mutex
	current  string
	issued   []string
}

func newOAuthCRM(t *testing.T, clientSecret string) *oauthCRM {
	o := &oauthCRM{}
	o.tokens = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.requests.Add(1)
		id, secret, _ := r.BasicAuth()
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if id != "hookflow" || secret != clientSecret || r.Form.Get("grant_type") != "client_credentials" ||
			r.Form.Get("scope") != "contacts:write notes:write" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		o.mu.Lock()
		o.current = fmt.Sprintf("crm-access-%d-9f2c1e", n)
		o.issued = append(o.issued, o.current)
		o.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, o.current)
	}))
	t.Cleanup(o.tokens.Close)
	var contacts atomic.Int64
	o.crm = newFakeAPI(t, func(r request, w http.ResponseWriter) {
		o.mu.Lock()
		ok := r.header.Get("Authorization") == "Bearer "+o.current
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case !ok:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_token"}`)
		case r.method == "POST" && r.path == "/api/v2/contacts":
			fmt.Fprintf(w, `{"id":"ct_%d","seen":%q}`, contacts.Add(1), r.header.Get("Authorization"))
		case r.method == "POST" && strings.HasPrefix(r.path, "/api/v2/contacts/ct_") && strings.HasSuffix(r.path, "/notes"):
			io.WriteString(w, `{"ok":true}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	return o
}

func (o *oauthCRM) revoke() {
	o.mu.Lock()
	o.current = "revoked"
	o.mu.Unlock()
}

// TestExampleOAuthCRM serves examples/oauth-crm from two processes sharing one Redis:
// every run of both uses one token; only signed sign-ups with an id start runs, one
// run per id; a token the CRM refuses is fetched again once, and the refused call sent
// again in the same attempt; no token shows anywhere.
func TestExampleOAuthCRM(t *testing.T) {
	setExampleEnv(t)
	const clientSecret = "sales-client-secret-4b7e"
	t.Setenv("SALES_CLIENT_SECRET", clientSecret)
	o := newOAuthCRM(t, clientSecret)
	t.Setenv("SALES_URL", o.crm.URL+"/api/v2")
	t.Setenv("SALES_TOKEN_URL", o.tokens.URL+"/oauth/token")
	rdb := redistest.Real(t)
	a := serveDir(t, examples+"/oauth-crm", rdb.URL, "127.0.0.1:0")
	b := serveDir(t, examples+"/oauth-crm", rdb.URL, "127.0.0.1:0")

	// send signs a sign-up as the website's back end does.
	send := func(s *server, body string) answer {
		t.Helper()
		return deliver(t, "http://"+s.publicAddr+"/hooks/signups", []byte(body), http.Header{"Content-Type": {"application/json"},
			"X-Signature-256": {"sha256=" + hex.EncodeToString(hmacSHA256(exampleEnv["SIGNUPS_WEBHOOK_SECRET"], []byte(body)))}})
	}
	body := func(i int) string {
		return fmt.Sprintf(`{"id":"su_%d","email":"user%d@example.com","name":"User %d","plan":"team"}`, i, i, i)
	}
	signup := func(s *server, i int) string {
		t.Helper()
		ans := send(s, body(i))
		if ans.status != http.StatusAccepted {
			t.Fatalf("sign-up %d: %d %s", i, ans.status, ans.body)
		}
		return ans.json(t)["run_id"].(string)
	}
	var runs []string
	var servers []*server
	for i := range 20 {
		s := []*server{a, b}[i%2]
		runs = append(runs, signup(s, i))
		servers = append(servers, s)
	}
	for i, id := range runs {
		wantSteps(t, waitRun(t, statusURL(servers[i], id)), "succeeded", "contact=succeeded", "note=succeeded")
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("%d token requests for 20 runs on two processes, want 1", n)
	}

	// Only the website may write contacts: a sign-up unsigned, or signed with another
	// secret, is refused; one sent again, to the other process, starts nothing; one
	// without an id starts nothing either, rather than share the Idempotency-Key
	// "signup-" with every other such sign-up.
	forged := `{"id":"su_1002","email":"mallory@example.com","name":"Mallory","plan":"team"}`
	for name, h := range map[string]http.Header{
		"unsigned":       {"Content-Type": {"application/json"}},
		"another secret": {"Content-Type": {"application/json"}, "X-Signature-256": {"sha256=" + hex.EncodeToString(hmacSHA256("not-the-signups-secret", []byte(forged)))}},
	} {
		if ans := deliver(t, "http://"+a.publicAddr+"/hooks/signups", []byte(forged), h); ans.status != http.StatusUnauthorized {
			t.Errorf("a sign-up %s: %d %s", name, ans.status, ans.body)
		}
	}
	if ans := send(b, body(2)); ans.status != http.StatusOK || ans.json(t)["status"] != "duplicate" || ans.json(t)["run_id"] != runs[2] {
		t.Errorf("a sign-up sent again: %d %s", ans.status, ans.body)
	}
	if ans := send(a, `{"email":"grace@example.com","name":"Grace Hopper","plan":"team"}`); ans.status != http.StatusOK || ans.json(t)["status"] != "filtered" {
		t.Errorf("a sign-up without an id: %d %s", ans.status, ans.body)
	}
	if runs := listRuns(t, a, "signup_to_crm"); len(runs) != 20 {
		t.Errorf("%d runs, want the 20 sign-ups' only", len(runs))
	}

	// The CRM revokes the token: the next call is refused, a new token is fetched once,
	// and the call is sent again within its first attempt.
	o.revoke()
	id := signup(b, 100)
	run := waitRun(t, statusURL(b, id))
	wantSteps(t, run, "succeeded", "contact=succeeded", "note=succeeded")
	if n := stepNamed(t, run, "contact")["attempts"]; n != 1.0 {
		t.Errorf("contact took %v attempts, want 1", n)
	}
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("%d token requests after a revocation, want 2", n)
	}
	// Its history shows both requests: the 401, with the CRM's answer, and the call
	// sent again.
	reqs, _ := stepNamed(t, run, "contact")["requests"].([]any)
	var got []string
	for _, r := range reqs {
		r, _ := r.(map[string]any)
		resp, _ := r["response"].(map[string]any)
		got = append(got, fmt.Sprintf("attempt %v: %v %v", r["attempt"], r["status"], resp["body"]))
	}
	if len(got) != 2 || got[0] != `attempt 1: 401 {"error":"invalid_token"}` ||
		!strings.HasPrefix(got[1], `attempt 1: 200 {"id":"ct_`) {
		t.Errorf("contact's requests %q, want the 401 and the call sent again, in its first attempt", got)
	}

	// No token in run history, the run list, metrics or Redis.
	var shown strings.Builder
	for _, s := range []*server{a, b} {
		for _, path := range []string{"/api/v1/runs/" + id, "/api/v1/runs/" + runs[0], "/api/v1/runs?workflow=signup_to_crm", "/metrics"} {
			resp, err := http.Get("http://" + s.adminAddr + path)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			shown.Write(data)
		}
	}
	keys, err := rdb.Client.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if v, err := rdb.Client.Dump(t.Context(), k).Result(); err == nil {
			shown.WriteString(v)
		}
	}
	o.mu.Lock()
	issued := append([]string(nil), o.issued...)
	o.mu.Unlock()
	for _, tok := range append(issued, clientSecret) {
		if strings.Contains(shown.String(), tok) {
			t.Errorf("%q is readable in the admin API, metrics or Redis", tok)
		}
	}
	if out := fmt.Sprint(stepNamed(t, run, "contact")["output"]); !strings.Contains(out, "Bearer [redacted]") {
		t.Errorf("the token the CRM echoed is not shown redacted: %s", out)
	}
}
