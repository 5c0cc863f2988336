package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const (
	answeredCookie = "sess-8c1f0e7d2b"
	answeredToken  = "auth-4a9e6c3f21"
)

// loginAPI answers /login with a session cookie and an auth token in its headers, and
// every other path with the body it got, which it records.
func loginAPI(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/login" {
			w.Header().Add("Set-Cookie", "session="+answeredCookie+"; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly")
			w.Header().Add("Set-Cookie", "theme=dark-mode-on; Path=/")
			w.Header().Set("X-Auth-Token", answeredToken)
			fmt.Fprint(w, `{"ok":true}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("X-Session")+" "+string(body))
		mu.Unlock()
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

const answeredSrc = `
workflow "crm" {
  step "http" "login" {
    url    = "%[1]s/login"
    method = "POST"
  }
  step "http" "use" {
    url     = "%[1]s/use"
    headers = { X-Session = "{{ split(split(steps.login.headers['set-cookie'], ';')[0], '=')[1] }}" }
    json    = { token = "{{ steps.login.headers['x-auth-token'] }}" }
  }
  step "http" "again" {
    url  = "%[1]s/again"
    json = { token = "{{ steps.use.body.token }}" }
  }
  step "http" "fail" {
    url  = "%[1]s/{{ steps.login.headers['x-auth-token'] }}"
    expect = ["4xx"]
  }
}
`

// The credential headers an http step got back (a session cookie, an auth token) are
// hidden in the run as it is shown wherever a later step wrote them again: its request,
// its answer, its output, its error, the run's error. The steps that read them got
// them as they came, through more than one step.
func TestAnsweredCredentialsHiddenWhereShown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv, got := loginAPI(t)
		e, set := httpEngine(t, b, fmt.Sprintf(answeredSrc, srv.URL))
		ctx := context.Background()

		id, err := e.Start(ctx, set.Workflow("crm"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunFailed || !strings.Contains(r.Error, "[redacted]") {
			t.Fatalf("run %s with error %q, want failed at step fail, its URL redacted", r.Status, r.Error)
		}
		sent := got()
		want := []string{
			answeredCookie + ` {"token":"` + answeredToken + `"}`,
			` {"token":"` + answeredToken + `"}`,
			" ",
		}
		if !slices.Equal(sent, want) {
			t.Errorf("the API got %q, want %q: the later steps read the values as they came", sent, want)
		}
		data, _ := json.Marshal(r)
		for _, v := range []string{answeredCookie, answeredToken} {
			if strings.Contains(string(data), v) {
				t.Errorf("%s is in the run as the API shows it: %s", v, data)
			}
		}
		steps := map[string]StepRun{}
		for _, s := range r.Steps {
			steps[s.Name] = s
		}
		if q := steps["use"].Requests; len(q) != 1 || q[0].Headers["X-Session"] != "[redacted]" || !strings.Contains(q[0].Body, `"token":"[redacted]"`) {
			t.Errorf("use's request shown as %+v", q)
		}
		out, _ := steps["again"].Output.(map[string]any)
		if body, _ := out["body"].(map[string]any); body["token"] != "[redacted]" {
			t.Errorf("again's output shown as %v", steps["again"].Output)
		}
		if steps["again"].Status != StatusSucceeded || steps["fail"].Status != StatusFailed || !strings.Contains(steps["fail"].Error, "[redacted]") {
			t.Errorf("again %s, fail %s with %q", steps["again"].Status, steps["fail"].Status, steps["fail"].Error)
		}

		// What later steps read is kept as it came.
		values, err := e.StepValues(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		use, _ := values["use"].(map[string]any)
		if body, _ := use["body"].(map[string]any); body["token"] != answeredToken {
			t.Errorf("use's value is %v, want the token as it came", values["use"])
		}
	})
}

// A Set-Cookie's cookies give the values that look like tokens, of cookies named as
// credentials or long: not their attributes', nor words, nor a short value of a cookie
// named otherwise, which would hide ordinary text wherever the run shows it.
func TestCookieValues(t *testing.T) {
	got := cookieValues(`session="abc123def"; Path=/accounts; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure, id=a3fWa1234; Max-Age=2592000; SameSite=Strict, short=abc, `+
		`consent=accepted, sessionid=deleted, region=us-east-1, PHPSESSID=h8d0s7f6g5j4k3l2m1n0b9v8, theme=dark mode on, auth_token=tok_51Hq2`, nil)
	want := []string{"abc123def", "h8d0s7f6g5j4k3l2m1n0b9v8", "tok_51Hq2"}
	if !slices.Equal(got, want) {
		t.Errorf("cookieValues = %q, want %q", got, want)
	}
}

// A credential header of an answer that gives a scheme, an Authorization's, gives its
// credentials after it.
func TestAnsweredValuesAfterTheScheme(t *testing.T) {
	got := answeredValues(map[string]any{"headers": map[string]any{
		"authorization": "Bearer abcdef123456", "x-auth-token": "tok_51Hq2xYz", "content-type": "application/json",
	}}, nil)
	slices.Sort(got)
	if want := []string{"abcdef123456", "tok_51Hq2xYz"}; !slices.Equal(got, want) {
		t.Errorf("answeredValues = %q, want %q", got, want)
	}
}
