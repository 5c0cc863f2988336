package actions

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// targets is an API that records the request-target of each request it gets, as the
// request line carried it, and answers {"data": [1], "next": next} when next is set.
func targets(t *testing.T, next string) (*httptest.Server, chan string) {
	t.Helper()
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI
		w.Header().Set("Content-Type", "application/json")
		if next != "" && !strings.Contains(r.RequestURI, "page2") {
			fmt.Fprintf(w, `{"data":[1],"next":%q}`, next)
			return
		}
		fmt.Fprint(w, `{"data":[1]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// A URL taken whole (a link an API returned, or one built in one expression) is sent
// with what a request-target may not hold escaped, in its query as in its path, as a
// browser sends it: a space in the query would otherwise break the request line
// ("GET /a%20b?c=d e HTTP/1.1"), which a strict server refuses and a lenient one
// misreads. What a link may hold is sent as it came: its %-escapes, & = + [ ] ' and a
// %2F in the path. The run history (and so the dry run) shows what was sent.
func TestHTTPStepEscapesAWholeURLsTarget(t *testing.T) {
	srv, got := targets(t, "")
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "{{ event.body.url }}" }`)
	for _, tt := range []struct{ url, want string }{
		{"/urlwhole/a b?c=d e", "/urlwhole/a%20b?c=d%20e"},
		{"/nbsp?q=a\u00a0b", "/nbsp?q=a%C2%A0b"},
		{"/x?q=é日", "/x?q=%C3%A9%E6%97%A5"},
		{"/marks?q=\"<>{}|^`\\", "/marks?q=%22%3C%3E%7B%7D%7C%5E%60%5C"},
		{"/p\"<>{}|^`?q=1", "/p%22%3C%3E%7B%7D%7C%5E%60?q=1"},
		{"/a%2Fb c?sig=a%2Fb%3D&x=1+2&y[0]=it's&z=100%", "/a%2Fb%20c?sig=a%2Fb%3D&x=1+2&y[0]=it's&z=100%"},
		{"/frag?q=a b#not sent", "/frag?q=a%20b"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"url": srv.URL + tt.url}}},
				RunID: "run1", Step: step.Name, Attempt: 1}
			if _, err := step.Action.Do(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if r := <-got; r != tt.want {
				t.Errorf("sent %q, want %q", r, tt.want)
			}
			shown, _, _ := strings.Cut(strings.TrimPrefix(c.Sent.URL, srv.URL), "#") // a fragment is shown, not sent
			if shown != tt.want {
				t.Errorf("the run history shows %q, want %q", shown, tt.want)
			}
		})
	}
}

// A URL written with text of its own that a request-target may not hold is sent
// escaped too, and a value's encoding is left as it is.
func TestHTTPStepEscapesTheTextOfItsURL(t *testing.T) {
	srv, got := targets(t, "")
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "a" { url = "`+srv.URL+`/t?q=a b|c&v={{ event.body.v }}" }`)
	if _, err := call(step, &workflows.Env{Event: map[string]any{"body": map[string]any{"v": "x y"}}}); err != nil {
		t.Fatal(err)
	}
	if r, want := <-got, "/t?q=a%20b%7Cc&v=x+y"; r != want {
		t.Errorf("sent %q, want %q", r, want)
	}
}

// A paginate next link is sent escaped as a whole url is.
func TestPaginateEscapesTheNextLink(t *testing.T) {
	srv, got := targets(t, "/page2/a%2Fb c?cursor=x y&sig=a%2F")
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/first"
  paginate {
    next  = "response.body.next"
    items = "response.body.data"
  }
}`)
	if _, err := call(step, &workflows.Env{}); err != nil {
		t.Fatal(err)
	}
	<-got
	if r, want := <-got, "/page2/a%2Fb%20c?cursor=x%20y&sig=a%2F"; r != want {
		t.Errorf("sent %q, want %q", r, want)
	}
}

// A secret written into a URL as it is is sent escaped as the rest of its target is;
// an answer that repeats the request line has it redacted in that form too.
func TestHTTPStepRedactsASecretEscapedInTheTarget(t *testing.T) {
	srv := echo(t, 200)
	const secret = "tok en|1?x y"
	t.Setenv("HOOKFLOW_TEST_TARGET", secret)
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback))})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
vars {
  token = secret("HOOKFLOW_TEST_TARGET")
}
workflow "w" {
  step "http" "send" { url = "` + srv.URL + `/hook?token=${vars.token}" }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	c := &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "send", Attempt: 1, Secrets: wf.Secrets}
	out, err := wf.Steps[0].Action.Do(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	body := wf.Secrets.Encoded().Value(out).(map[string]any)["body"].(string) // as the engine records it
	if line, _, _ := strings.Cut(body, "\n"); line != "GET /hook?token=[redacted]" {
		t.Errorf("the answer is recorded as %q", line)
	}
	if c.Sent.URL != srv.URL+"/hook?token=[redacted]" {
		t.Errorf("the request is recorded as %q", c.Sent.URL)
	}
}
