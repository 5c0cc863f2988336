package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// pagedAPI answers a list of 5 pages of 2 items each, page by page, by each scheme:
// /link (a Link header), /cursor (a cursor field), /pages (page numbers, an empty
// page after the last). It counts the requests it gets, and when each came.
func pagedAPI(t *testing.T) (*httptest.Server, *pages) {
	t.Helper()
	api := &pages{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.count++
		api.times = append(api.times, time.Now())
		w.Header().Set("Content-Type", "application/json")
		page := 1
		switch r.URL.Path {
		case "/link":
			page, _ = strconv.Atoi(r.URL.Query().Get("p"))
			page = max(page, 1)
			if page < 5 {
				w.Header().Set("Link", fmt.Sprintf(`<%s/link?p=%d>; rel="next", <%s/link?p=5>; rel="last"`, srv.URL, page+1, srv.URL))
			}
		case "/cursor":
			if c := r.URL.Query().Get("cursor"); c != "" {
				page, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
			}
		case "/pages":
			page, _ = strconv.Atoi(r.URL.Query().Get("page"))
			page = max(page, 1)
			if page > 5 {
				fmt.Fprint(w, `{"data":[]}`)
				return
			}
		}
		next := ""
		if page < 5 {
			next = "c" + strconv.Itoa(page+1)
		}
		fmt.Fprintf(w, `{"data":[{"id":%d},{"id":%d}],"next_cursor":%q}`, 2*page-1, 2*page, next)
	}))
	t.Cleanup(srv.Close)
	return srv, api
}

// pages is what pagedAPI saw; one request at a time, as a step reads its pages.
type pages struct {
	count int
	times []time.Time
}

func TestPaginateByEachScheme(t *testing.T) {
	srv, api := pagedAPI(t)
	tests := []struct {
		name, path, next string
		requests         int
	}{
		{"link header", "/link", `link_next(response)`, 5},
		{"cursor", "/cursor", `with_query(request.url, {cursor: response.body.next_cursor})`, 5},
		{"page numbers", "/pages?page=1", `len(response.body.data) == 0 ? nil : with_query(request.url, {page: page + 1})`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.count = 0
			step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+tt.path+`"
  paginate {
    next  = "`+strings.ReplaceAll(tt.next, `"`, `\"`)+`"
    items = "response.body.data"
  }
}`)
			c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "list", Attempt: 1}
			v, err := step.Action.Do(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			out := v.(map[string]any)
			items := out["items"].([]any)
			if len(items) != 10 {
				t.Fatalf("%d items, want 10: %v", len(items), items)
			}
			for i, it := range items {
				if id := it.(map[string]any)["id"]; workflows.Text(id) != strconv.Itoa(i+1) {
					t.Errorf("item %d is %v", i, it)
				}
			}
			if out["pages"] != tt.requests || out["next"] != nil || api.count != tt.requests {
				t.Errorf("pages %v, next %v, %d requests; want %d pages, no next", out["pages"], out["next"], api.count, tt.requests)
			}
			// Every page is a request of the attempt in the history, numbered.
			sent := append(c.SentBefore, c.Sent)
			if len(sent) != tt.requests {
				t.Fatalf("recorded %d requests, want %d", len(sent), tt.requests)
			}
			for i, r := range sent {
				if r.Page != i+1 || r.Attempt != 1 || r.Status != 200 || r.Response == nil {
					t.Errorf("request %d recorded as %+v", i+1, r)
				}
				want := "r:list"
				if i > 0 {
					want += ":page" + strconv.Itoa(i+1)
				}
				if got := r.Headers["Idempotency-Key"]; got != want {
					t.Errorf("page %d sent Idempotency-Key %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

func TestPaginateMaxPagesStopsWithTheNextURL(t *testing.T) {
	srv, api := pagedAPI(t)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/cursor"
  paginate {
    next      = "with_query(request.url, {cursor: response.body.next_cursor})"
    items     = "response.body.data"
    max_pages = 3
  }
}`)
	v, err := call(step, &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	out := v.(map[string]any)
	if len(out["items"].([]any)) != 6 || out["pages"] != 3 || api.count != 3 || out["next"] != srv.URL+"/cursor?cursor=c4" {
		t.Errorf("items %v, pages %v, next %v after %d requests", out["items"], out["pages"], out["next"], api.count)
	}
}

func TestPaginateRelativeNext(t *testing.T) {
	srv, _ := pagedAPI(t)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/cursor"
  paginate {
    next  = "response.body.next_cursor == '' ? nil : '/cursor?cursor=' + response.body.next_cursor"
    items = "response.body.data"
  }
}`)
	v, err := call(step, &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.(map[string]any)["items"].([]any)); n != 10 {
		t.Errorf("%d items, want 10", n)
	}
}

// The next page's URL is where the step's credentials go: another host, a private
// address among them, is refused before anything is sent; a redirect is not followed.
func TestPaginateStaysOnItsHostAndGuarded(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.String())
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		fmt.Fprint(w, `{"data":[1],"next":"http://10.0.0.1/internal"}`)
	}))
	defer srv.Close()
	for _, tt := range []struct{ next, want string }{
		{`response.body.next`, "not where the first page was"},
		{`'/moved'`, "redirects are not followed"},
	} {
		got = nil
		step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/first"
  paginate {
    next  = "`+tt.next+`"
    items = "response.body.data"
  }
}`)
		_, err := call(step, &workflows.Env{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("next = %s: err = %v, want %q", tt.next, err, tt.want)
		}
		for _, u := range got {
			if strings.Contains(u, "internal") || strings.Contains(u, "elsewhere") {
				t.Errorf("next = %s: sent %s", tt.next, u)
			}
		}
	}
}

// The api's rate limit admits every page: without a store for the pages read (as a
// poll reads them), the first as any call, the others waiting for their turn within
// the call.
func TestPaginateRateLimitAppliesToEachPage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api, apis, wf := limitedPages(t, b)
		c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "list", Attempt: 1}
		v, err := wf.Steps[0].Action.Do(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		// However fast or slow the pages come, the limit spaces them: 5 calls at 10/s
		// with a burst of 1 span 400ms at least.
		if span := api.times[len(api.times)-1].Sub(api.times[0]); span < 380*time.Millisecond {
			t.Errorf("5 pages sent within %s; at 10/s they take 400ms", span)
		}
		if n := len(v.(map[string]any)["items"].([]any)); n != 10 || api.count != 5 {
			t.Fatalf("%d items in %d requests", n, api.count)
		}
		if calls := testutil.ToFloat64(apis.metrics.calls.WithLabelValues("list")); calls != 5 {
			t.Errorf("calls metric = %v, want 5: one per page", calls)
		}
		if waits := testutil.ToFloat64(apis.metrics.waits.WithLabelValues("list", "rate_limit")); waits < 1 {
			t.Errorf("waits metric = %v: no page waited for its turn", waits)
		}
		// The bucket is empty now: the first page of the next call hands the step back.
		_, err = wf.Steps[0].Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r2", Step: "list", Attempt: 1})
		throttled(t, err, "rate_limit")
	})
}

// memPages keeps pages in memory, as the engine keeps them in the job's hash.
type memPages struct {
	kept []workflows.KeptPage
	last map[string]any
}

func (m *memPages) Kept(context.Context) ([]workflows.KeptPage, map[string]any, error) {
	return m.kept, m.last, nil
}

func (m *memPages) Keep(_ context.Context, p workflows.KeptPage, response map[string]any) error {
	m.kept, m.last = append(m.kept, p), response
	return nil
}

// With a store for the pages read (a step run by the engine), a page the api's limits
// hold back is workflows.Throttled, which hands the step back; called again, the step
// goes on from that page, and its output is that of one read.
func TestPaginateHeldBackGoesOnFromThePageKept(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api, _, wf := limitedPages(t, b)
		store := &memPages{}
		var v any
		var err error
		var calls []*workflows.Call
		for range 50 {
			c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "list", Attempt: 1, Pages: store}
			calls = append(calls, c)
			v, err = wf.Steps[0].Action.Do(t.Context(), c)
			var th *workflows.Throttled
			if !errors.As(err, &th) {
				break
			}
			time.Sleep(th.After) // as the queue waits before the next lease
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) < 2 {
			t.Fatalf("no page was held back at 10/s")
		}
		out := v.(map[string]any)
		if n := len(out["items"].([]any)); n != 10 || api.count != 5 || out["pages"] != 5 {
			t.Fatalf("%d items in %d requests, %v pages", n, api.count, out["pages"])
		}
		for i, it := range out["items"].([]any) {
			if id := fmt.Sprint(it.(map[string]any)["id"]); id != strconv.Itoa(i+1) {
				t.Errorf("item %d has id %s", i, id)
			}
		}
		last := calls[len(calls)-1]
		if len(store.kept) != 4 || len(last.SentBefore) != 4 || last.Sent.Page != 5 {
			t.Errorf("%d pages kept; the last call recorded %d pages before page %d", len(store.kept), len(last.SentBefore), last.Sent.Page)
		}
		for i, req := range append(last.SentBefore, last.Sent) {
			if req.Page != i+1 {
				t.Errorf("request %d recorded as page %d", i, req.Page)
			}
		}
	})
}

// limitedPages is a cursor-paginated read through an api limited to 10 calls a second,
// one at once, against pagedAPI's server.
func limitedPages(t *testing.T, b *redistest.Backend) (*pages, *APIs, *workflows.Workflow) {
	t.Helper()
	srv, api := pagedAPI(t)
	apis := NewAPIs()
	apis.Connect(b.Client)
	wf := loadWithAPIsShared(t, apis, `api "list" {
  base_url   = "`+srv.URL+`"
  rate_limit = "10/s"
  burst      = 1
}`, `step "http" "list" {
  api = "list"
  url = "/cursor"
  paginate {
    next  = "with_query(request.url, {cursor: response.body.next_cursor})"
    items = "response.body.data"
  }
}`)
	return api, apis, wf
}

func loadWithAPIsShared(t *testing.T, apis *APIs, top, steps string) *workflows.Workflow {
	t.Helper()
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
	set, diags := workflows.Load([]workflows.Source{{Name: "test.hcl", Data: []byte(top + "\nworkflow \"w\" {\n" + steps + "\n}\n")}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set.Workflow("w")
}

func TestPaginateLoadErrors(t *testing.T) {
	expectLoadErrors(t, map[string]string{
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    nxt   = "link_next(response)"
    items = "response.body"
  }
}`: `t.hcl:5,5-8: Unsupported argument; An argument named "nxt" is not expected here. Did you mean "next"?`,
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next = "link_next(response)"
  }
}`: "paginate needs items",
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "response.body.next +"
    items = "response.body.data"
  }
}`: "t.hcl:5,33-34: Invalid expression",
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "respons.body.next"
    items = "response.body.data"
  }
}`: `Unknown name "respons"`,
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next      = "link_next(response)"
    items     = "response.body.data"
    max_pages = 0
  }
}`: "Invalid max_pages",
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "{{ link_next(response) }}"
    items = "response.body.data"
  }
}`: `t.hcl:5,27-37: Unknown name "response"`,
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "steps.later.body"
    items = "response.body.data"
  }
}
step "http" "later" {
  url = "https://x.example/b"
}`: `Reference to a later step "later"`,
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "link_next(response)"
    items = "len(response.body.data)"
  }
}`: `t.hcl:6,13-38: items does not give a list; "len(response.body.data)" gives a number, and items is a list read from each page, such as items = "response.body.data".`,
		`step "http" "a" {
  url = "https://x.example/a"
  paginate {
    next  = "page + 1"
    items = "response.body.data"
  }
}`: `next does not give a URL; "page + 1" gives a number`,
	})
}

func TestLinkNext(t *testing.T) {
	for header, want := range map[string]string{
		`<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last"`: "https://a.example/x?page=2",
		`<https://a.example/x?page=1>; rel="prev", <https://a.example/x?page=3>; rel=next`:   "https://a.example/x?page=3",
		`<https://a.example/x?a=1,2>; rel="last next"`:                                       "https://a.example/x?a=1,2",
		`<https://a.example/x?page=9>; rel="last"`:                                           "",
		``: "",
	} {
		if got := workflows.LinkNext(header); got != want {
			t.Errorf("LinkNext(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestSensitiveLoadErrors(t *testing.T) {
	expectLoadErrors(t, map[string]string{
		`step "http" "a" {
  url       = "https://x.example/a"
  sensitive = "yes"
}`: "sensitive must be true or false",
	})
}

// A page that fails fails the attempt, saying which page, and a 5xx is retried.
func TestPaginateFailingPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "3" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":[1]}`)
	}))
	defer srv.Close()
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/x?page=1"
  paginate {
    next  = "with_query(request.url, {page: page + 1})"
    items = "response.body.data"
  }
}`)
	c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Step: "list", Attempt: 1}
	_, err := step.Action.Do(t.Context(), c)
	if err == nil || !strings.HasPrefix(err.Error(), "page 3: GET ") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	if retry, _ := workflows.Retryable(err); !retry {
		t.Errorf("a 503 on page 3 is not retried")
	}
	if len(c.SentBefore) != 2 || c.Sent.Page != 3 || c.Sent.Status != 503 {
		t.Errorf("recorded %d pages before page %d (%d)", len(c.SentBefore), c.Sent.Page, c.Sent.Status)
	}
}

// A list longer than a step keeps stops before the page that would pass
// workflows.MaxItems, as at max_pages: the step succeeds with the pages before it, and
// next is that page's URL. A first page that passes it alone fails the step.
func TestPaginateStopsBeforeTooManyItems(t *testing.T) {
	var per atomic.Int64 // items a page
	per.Store(3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		ids := make([]string, per.Load())
		for i := range ids {
			ids[i] = strconv.Itoa(page*len(ids) + i)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"page":%d,"data":[%s]}`, page, strings.Join(ids, ","))
	}))
	t.Cleanup(srv.Close)
	step := loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/list"
  paginate {
    next      = "with_query(request.url, {page: page + 1})"
    items     = "response.body.data"
    max_pages = 100
  }
}`)
	v, err := call(step, &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	out := v.(map[string]any)
	body, _ := out["body"].(map[string]any)
	if len(out["items"].([]any)) != 9000 || out["pages"] != 3 || out["next"] != srv.URL+"/list?page=4" || fmt.Sprint(body["page"]) != "3" {
		t.Errorf("%d items, pages %v, next %v, last page %v", len(out["items"].([]any)), out["pages"], out["next"], body["page"])
	}

	per.Store(workflows.MaxItems + 1)
	if _, err := call(step, &workflows.Env{}); err == nil || !strings.Contains(err.Error(), "the first page has 10001 items") {
		t.Errorf("a first page past the cap: %v", err)
	}
}
