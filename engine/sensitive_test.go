package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

const sensitiveToken = "tok-5e4f9a2b7c"

// tokenAPI answers /token with a token, /pages?page=N with 3 pages of items, /fail
// with a 400, /flaky with a 400 the first time, and records the bodies other paths
// get.
func tokenAPI(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var used []string
	flaked := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600}`, sensitiveToken)
		case "/pages":
			page := r.URL.Query().Get("page")
			if page == "" {
				page = "1"
			}
			if page != "3" {
				w.Header().Set("Link", fmt.Sprintf(`</pages?page=%c>; rel="next"`, page[0]+1))
			}
			fmt.Fprintf(w, `{"data":["item-%s"]}`, page)
		case "/fail":
			w.WriteHeader(http.StatusBadRequest)
		case "/flaky": // fails the first time, then answers as /use does
			mu.Lock()
			first := !flaked
			flaked = true
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			fallthrough
		default:
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			used = append(used, string(body))
			mu.Unlock()
			fmt.Fprint(w, `{}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), used...)
	}
}

const sensitiveSrc = `
workflow "crm" {
  step "http" "login" {
    url       = "%[1]s/token"
    method    = "POST"
    sensitive = true
  }
  step "http" "list" {
    url = "%[1]s/pages"
    paginate {
      next  = "link_next(response)"
      items = "response.body.data"
    }
  }
  step "set" "shouted" {
    for_each  = "[1, 2]"
    sensitive = true
    value     = "{{ upper(steps.login.body.access_token) }}-{{ each.value }}"
  }
  step "http" "use" {
    url  = "%[1]s/use"
    json = { token = "{{ steps.login.body.access_token }}", items = "{{ steps.list.items }}" }
  }
  step "set" "each_token" {
    for_each = "[steps.login.body.access_token, 'plain-item-value']"
    value    = "{{ each.value }}"
  }
  step "workflow" "child" {
    workflow = "child"
    input    = { value = "{{ steps.login.body.access_token }}", plain = "plain-input-value" }
  }
  step "http" "last" {
    url  = "%[1]s/{{ event.body.last }}"
    json = { token = "{{ steps.login.body.access_token }}" }
  }
}

workflow "child" {
  step "set" "echo" {
    got = "{{ event.body.value }}"
  }
}
`

// rawSensitive lists the keys of b, and their contents, that hold a raw sensitive
// value of the runs of sensitiveSrc: the token, or the outputs of shouted made of it.
func rawSensitive(t *testing.T, b *redistest.Backend) string {
	left := ""
	for k, v := range redisContents(t, b) {
		if strings.Contains(v, sensitiveToken) || strings.Contains(v, "TOK-5E4F9A2B7C") {
			left += k + ": " + v + "\n"
		}
	}
	return left
}

// A sensitive step's output is [sensitive] in the history, and its values are
// [redacted] where they appear again (a later step's recorded request), yet the later
// step sent the real value. As soon as the run is seen succeeded, no key of Redis
// holds a raw value: not its records, not the items listed from it, not the input of
// the child run it started; a run that fails keeps them, and its replay reads them.
// Each page of a paginated step is a request in the history.
func TestSensitiveOutputs(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		srv, used := tokenAPI(t)
		e, set := httpEngine(t, b, fmt.Sprintf(sensitiveSrc, srv.URL))
		ctx := context.Background()

		id, err := e.Start(ctx, set.Workflow("crm"), event(`{"last":"done"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		if got := used(); len(got) != 2 || !strings.Contains(got[1], sensitiveToken) || !strings.Contains(got[0], `"token":"`+sensitiveToken+`"`) ||
			!strings.Contains(got[0], `"items":["item-1","item-2","item-3"]`) {
			t.Errorf("the later step sent %q, want the real token and the items of 3 pages", got)
		}
		steps := map[string]StepRun{}
		for _, s := range r.Steps {
			steps[s.Name] = s
		}
		if steps["login"].Output != "[sensitive]" {
			t.Errorf("login output shown as %v", steps["login"].Output)
		}
		if req := steps["login"].Requests; len(req) != 1 || req[0].Response == nil || req[0].Response.Body != "[sensitive]" {
			t.Errorf("login's answer recorded as %+v", req)
		}
		if req := steps["use"].Requests; len(req) != 1 || !strings.Contains(req[0].Body, `"token":"[redacted]"`) {
			t.Errorf("the later step's request recorded as %+v", req)
		}
		if req := steps["list"].Requests; len(req) != 3 || req[2].Page != 3 || !strings.HasSuffix(req[2].URL, "/pages?page=3") {
			t.Errorf("the pages recorded as %+v", req)
		} else {
			for i, r := range req {
				if r.Response == nil || !strings.Contains(r.Response.Body, fmt.Sprintf("item-%d", i+1)) {
					t.Errorf("page %d's answer recorded as %+v", i+1, r.Response)
				}
			}
		}
		data, _ := json.Marshal(r)
		if strings.Contains(string(data), sensitiveToken) {
			t.Errorf("the token is in the run as the API shows it: %s", data)
		}
		if strings.Contains(string(data), "TOK-5E4F9A2B7C") {
			t.Errorf("a sensitive for_each step's items are shown: %s", data)
		}
		// The commit that ends the run forgets the raw values: the run is not seen
		// succeeded before.
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the run succeeded:\n%s", left)
		}
		sh := e.q.shardFor("crm")
		items, _ := b.Client.HGetAll(ctx, sh.items(id, "each_token")).Result()
		if items["v:0"] != `"[sensitive]"` || items["v:1"] != `"plain-item-value"` || len(items) != 3 {
			t.Errorf("the items listed from the token are %v, want it [sensitive] and the plain one kept", items)
		}
		child, err := e.Run(ctx, id+":child")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := child.Event.Body.(map[string]any)
		if child.Status != RunSucceeded || body["value"] != "[sensitive]" || body["plain"] != "plain-input-value" {
			t.Errorf("the child run is %s with the event body %v, want its value [sensitive] and the rest kept", child.Status, child.Event.Body)
		}
		if got := child.Steps[0].Output; fmt.Sprint(got) != "map[got:[redacted]]" {
			t.Errorf("the child's step that read the token shows %v, want it redacted", got)
		}

		// A run that fails keeps the raw values, and its replay reads them; once it
		// succeeds, they are gone.
		failed, err := e.Start(ctx, set.Workflow("crm"), event(`{"last":"flaky"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, failed); r.Status != RunFailed {
			t.Fatalf("run %s, want failed", r.Status)
		}
		raw, _ := b.Client.HGet(ctx, sh.run(failed), recordPrefix+"login").Result()
		if !strings.Contains(raw, sensitiveToken) {
			t.Errorf("the failed run's record of login is %s, want the raw output kept for a replay", raw)
		}
		results, _ := b.Client.HGetAll(ctx, sh.results(failed, "shouted")).Result()
		if !strings.Contains(fmt.Sprint(results), "TOK-5E4F9A2B7C-2") {
			t.Errorf("the failed run's items of shouted are %v, want the raw outputs kept", results)
		}
		items, _ = b.Client.HGetAll(ctx, sh.items(failed, "each_token")).Result()
		if !strings.Contains(items["v:0"], sensitiveToken) {
			t.Errorf("the failed run's items of each_token are %v, want the raw value kept", items)
		}
		if _, err := e.Replay(ctx, failed, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, failed); r.Status != RunSucceeded {
			t.Fatalf("replayed run %s: %s", r.Status, r.Error)
		}
		if got := used(); len(got) != 4 || !strings.Contains(got[3], `"token":"`+sensitiveToken+`"`) {
			t.Errorf("the replayed step sent %q, want the raw token", got)
		}
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the replayed run succeeded:\n%s", left)
		}
	})
}
