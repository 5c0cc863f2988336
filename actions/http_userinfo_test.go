package actions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// A password in a URL's user info is sent as basic auth (the client makes the
// Authorization header of it): an answer that repeats the header, or the password
// itself, shows neither, however the URL got its password (secret(), written in the
// file, or from the event), and the run history records the header that was sent.
func TestHTTPStepHidesTheURLsUserInfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		fmt.Fprintf(w, "%s %s\npassword %s\n", r.Method, r.RequestURI, pass)
		r.Header.Write(w)
	}))
	t.Cleanup(srv.Close)
	const password = "p@ssUrl9w0rd" // written %40 in the URL: sent, and repeated, decoded
	t.Setenv("HOOKFLOW_TEST_URLPW", "p%40ssUrl9w0rd")
	host := strings.TrimPrefix(srv.URL, "http://")
	for name, url := range map[string]string{
		"secret":  `http://svc:${secret("HOOKFLOW_TEST_URLPW")}@` + host + `/echo`,
		"literal": `http://svc:p%40ssUrl9w0rd@` + host + `/echo`,
		"event":   `{{ event.body.url }}`,
	} {
		t.Run(name, func(t *testing.T) {
			k := workflows.NewKinds()
			Register(k, Options{Client: NewClient(NewGuard(loopback))})
			set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "w" {
  step "http" "send" { url = "` + url + `" }
}`)}}, k)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			wf := set.Workflow("w")
			env := &workflows.Env{Event: map[string]any{"body": map[string]any{"url": "http://svc:p%40ssUrl9w0rd@" + host + "/echo"}}}
			c := &workflows.Call{Env: env, RunID: "r1", Step: "send", Attempt: 1, Secrets: wf.Secrets}
			out, err := wf.Steps[0].Action.Do(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			output := wf.Secrets.Encoded().Value(out).(map[string]any) // as the engine records it
			body, _ := output["body"].(string)
			if !strings.Contains(body, "Authorization: Basic [redacted]") || !strings.Contains(body, "password [redacted]") {
				t.Errorf("the answer is recorded as %q", body)
			}
			if got := output["headers"].(map[string]any)["x-echo"]; got != "Basic [redacted]" {
				t.Errorf("the echoed header is recorded as %q", got)
			}
			if got := c.Sent.Headers["Authorization"]; got != "Basic [redacted]" {
				t.Errorf("the request's Authorization is recorded as %q, want the basic auth sent", got)
			}
			recorded, _ := json.Marshal(c.Sent)
			answer, _ := json.Marshal(output)
			token := base64.StdEncoding.EncodeToString([]byte("svc:" + password))
			for _, form := range []string{token, password, "p%40ssUrl9w0rd"} {
				if strings.Contains(string(recorded)+string(answer), form) {
					t.Errorf("the run history holds the credentials as %q:\n%s\n%s", form, recorded, answer)
				}
			}
		})
	}
}

// A short password in a URL's user info (or none) hides nothing: its base64, four
// characters or so, would hide ordinary text of the answer.
func TestShortUserInfoHidesNothing(t *testing.T) {
	for _, u := range []*url.Userinfo{url.UserPassword("a", "b"), url.User("u"), url.UserPassword("svc", "short")} {
		if got := userInfoCredentials(u); got != nil {
			t.Errorf("%s: hides %q", u, got)
		}
	}
	if got := userInfoCredentials(url.UserPassword("svc", "p@ssUrl9w0rd")); len(got) != 2 {
		t.Errorf("a long password hides %q, want its base64 and itself", got)
	}
}
