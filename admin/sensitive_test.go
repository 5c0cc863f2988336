package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A sensitive step's output is [sensitive] in the admin API and on the inspector's
// run page, and its value [redacted] in the later step's recorded request.
func TestSensitiveOutputHidden(t *testing.T) {
	const token = "tok-admin-4d2a91"
	got := make(chan string, 1)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			io.WriteString(w, `{"access_token":"`+token+`"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
		io.WriteString(w, `{}`)
	}))
	defer crm.Close()
	e, set, api := serveAPI(t, `
workflow "login" {
  step "http" "token" {
    method    = "POST"
    url       = "`+crm.URL+`/token"
    sensitive = true
  }
  step "http" "use" {
    url  = "`+crm.URL+`/use"
    json = { token = "{{ steps.token.body.access_token }}" }
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("login"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	if body := <-got; !strings.Contains(body, token) {
		t.Errorf("the later step sent %s, want the real token", body)
	}
	inspector := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer inspector.Close()
	for _, u := range []string{api.URL + "/api/v1/runs/" + id, inspector.URL + "/runs/" + id} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(page), token) || !strings.Contains(string(page), "[sensitive]") || !strings.Contains(string(page), "[redacted]") {
			t.Errorf("%s shows:\n%s", u, page)
		}
	}
}
