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
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const sensitiveToken = "tok-5e4f9a2b7c"

// tokenAPI answers /token with a token, /pages?page=N with 3 pages of items, and
// records the bodies /use gets.
func tokenAPI(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var used []string
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
  step "http" "last" {
    url = "%[1]s/{{ event.body.last }}"
  }
}
`

// A sensitive step's output is [sensitive] in the history, and its values are
// [redacted] where they appear again (a later step's recorded request), yet the later
// step sent the real value. Once the run succeeds, the raw values are gone from Redis;
// a run that fails keeps them, to be replayed. Each page of a paginated step is a
// request in the history.
func TestSensitiveOutputs(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
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
		if got := used(); len(got) != 2 || !strings.Contains(got[0], `"token":"`+sensitiveToken+`"`) ||
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
		// The worker that ends the run replaces the raw outputs right after it records
		// the end (the status can be read a moment before).
		left := ""
		defer func() { // when Eventually gives up
			if left != "" {
				t.Logf("sensitive values still in Redis:\n%s", left)
			}
		}()
		testutil.Eventually(t, 5*time.Second, "the sensitive values gone from Redis", func() bool {
			left = ""
			for k, v := range redisContents(t, b) {
				if strings.Contains(v, sensitiveToken) || strings.Contains(v, "TOK-5E4F9A2B7C") {
					left += k + ": " + v + "\n"
				}
			}
			return left == ""
		})

		// A run that fails keeps the raw value, for its replay.
		failed, err := e.Start(ctx, set.Workflow("crm"), event(`{"last":"fail"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, failed); r.Status != RunFailed {
			t.Fatalf("run %s, want failed", r.Status)
		}
		raw, _ := b.Client.HGet(ctx, e.q.shardFor("crm").run(failed), recordPrefix+"login").Result()
		if !strings.Contains(raw, sensitiveToken) {
			t.Errorf("the failed run's record of login is %s, want the raw output kept for a replay", raw)
		}
		items, _ := b.Client.HGetAll(ctx, e.q.shardFor("crm").results(failed, "shouted")).Result()
		if !strings.Contains(fmt.Sprint(items), "TOK-5E4F9A2B7C-2") {
			t.Errorf("the failed run's items of shouted are %v, want the raw outputs kept", items)
		}
	})
}
