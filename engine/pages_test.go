package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// listAPI answers /list?page=N with page N of a list of 6 pages of 2 items each, the
// page after it in next (null on the last), and /other with {}. It records every
// request in order, with its Idempotency-Key.
type listAPI struct {
	mu     sync.Mutex
	seen   []listCall
	onPage func(page int, r *http.Request) // called before a page is answered, when set
	srv    *httptest.Server
}

type listCall struct {
	path string
	page int
	key  string
}

const listPages = 6

func newListAPI(t *testing.T) *listAPI {
	a := &listAPI{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		a.mu.Lock()
		a.seen = append(a.seen, listCall{r.URL.Path, page, r.Header.Get("Idempotency-Key")})
		onPage := a.onPage
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/list" {
			fmt.Fprint(w, `{}`)
			return
		}
		if onPage != nil {
			onPage(page, r)
		}
		next := "null"
		if page < listPages {
			next = fmt.Sprintf(`"/list?page=%d"`, page+1)
		}
		fmt.Fprintf(w, `{"data":[{"id":%d},{"id":%d}],"page":%d,"next":%s}`, 2*page-1, 2*page, page, next)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *listAPI) calls() []listCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]listCall(nil), a.seen...)
}

// perPage counts the requests of each page of /list.
func (a *listAPI) perPage() map[int]int {
	n := map[int]int{}
	for _, c := range a.calls() {
		if c.path == "/list" {
			n[c.page]++
		}
	}
	return n
}

const pagesSrc = `
api "slow" {
  base_url   = "%[1]s"
  rate_limit = "2/s"
  burst      = 1
}

api "fast" {
  base_url = "%[1]s"
}

workflow "read" {
  step "http" "list" {
    api = "slow"
    url = "/list?page=1"
    paginate {
      next  = "response.body.next"
      items = "response.body.data"
    }
  }
}

workflow "read_fast" {
  step "http" "list" {
    api = "fast"
    url = "/list?page=1"
    paginate {
      next  = "response.body.next"
      items = "response.body.data"
    }
  }
}

workflow "other" {
  step "http" "ping" {
    url = "%[1]s/other"
  }
}
`

// pagesEngine is an engine on b whose api limits are kept in b, with no pool yet.
func pagesEngine(t *testing.T, b *redistest.Backend, src string) (*Engine, *workflows.Set) {
	t.Helper()
	return apiEngine(t, b, src, time.Second)
}

// apiEngine is pagesEngine with leases of the given length.
func apiEngine(t *testing.T, b *redistest.Backend, src string, lease time.Duration) (*Engine, *workflows.Set) {
	t.Helper()
	apis := actions.NewAPIs()
	apis.Connect(b.Client)
	k := workflows.NewKinds()
	client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	actions.Register(k, actions.Options{Client: client, Logger: quiet, APIs: apis})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, Lease: lease})
	e.Use(set)
	return e, set
}

// wantPages checks a run's paginated step "list": succeeded, its output the 6 pages'
// items in order, and each page recorded once, in order, with the attempts given.
func wantPages(t *testing.T, r *Run, attempts ...int) map[string]any {
	t.Helper()
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	s := r.Steps[0]
	out, _ := s.Output.(map[string]any)
	items, _ := out["items"].([]any)
	if len(items) != 2*listPages {
		t.Fatalf("%d items, want %d: %v", len(items), 2*listPages, out)
	}
	for i, it := range items {
		if id := fmt.Sprint(it.(map[string]any)["id"]); id != strconv.Itoa(i+1) {
			t.Errorf("item %d has id %s: the items are out of order", i, id)
		}
	}
	if fmt.Sprint(out["pages"]) != strconv.Itoa(listPages) || out["next"] != nil || fmt.Sprint(out["body"].(map[string]any)["page"]) != strconv.Itoa(listPages) {
		t.Errorf("pages %v, next %v, body %v: want the last page's answer, %d pages, no next", out["pages"], out["next"], out["body"], listPages)
	}
	if len(s.Requests) != listPages {
		t.Fatalf("%d requests recorded, want one per page: %+v", len(s.Requests), s.Requests)
	}
	for i, req := range s.Requests {
		if req.Page != i+1 || req.Status != 200 || req.Attempt != attempts[i] {
			t.Errorf("request %d recorded as page %d (status %d, attempt %d), want page %d of attempt %d",
				i, req.Page, req.Status, req.Attempt, i+1, attempts[i])
		}
	}
	return out
}

// A paginated step that its api's rate limit holds back between pages hands its worker
// back: with one worker, another run's step runs while it waits. It goes on from the
// page it was held back at: each page is requested once, with its own Idempotency-Key,
// recorded once, and the output is that of a read that was never held back. The waits
// count no attempt.
func TestPagesHeldBackHoldNoWorker(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newListAPI(t)
		e, set := pagesEngine(t, b, fmt.Sprintf(pagesSrc, api.srv.URL))
		ctx := context.Background()
		firstPage := make(chan struct{})
		var once sync.Once
		api.onPage = func(int, *http.Request) { once.Do(func() { close(firstPage) }) }
		startPool(t, e, 1)

		id, err := e.Start(ctx, set.Workflow("read"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-firstPage:
		case <-time.After(10 * time.Second):
			t.Fatal("the first page was never requested")
		}
		other, err := e.Start(ctx, set.Workflow("other"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if o := waitRun(t, e, other); o.Status != RunSucceeded {
			t.Fatalf("the other run %s: %s", o.Status, o.Error)
		}
		out := wantPages(t, r, 1, 1, 1, 1, 1, 1)
		if a := r.Steps[0].Attempts; a != 1 {
			t.Errorf("the step took %d attempts; a wait for the api's limits is none", a)
		}

		calls := api.calls()
		var order []string
		otherAt, lastPageAt := -1, -1
		for i, c := range calls {
			order = append(order, fmt.Sprintf("%s?page=%d", c.path, c.page))
			switch {
			case c.path == "/other":
				otherAt = i
			case c.page == listPages:
				lastPageAt = i
			}
		}
		if otherAt < 0 || otherAt > lastPageAt {
			t.Errorf("requests in order %v: the other run's step ran only once the pages were read, so the paginated step held the one worker while it waited", order)
		}
		for page, n := range api.perPage() {
			if n != 1 {
				t.Errorf("page %d requested %d times, want once", page, n)
			}
		}
		for _, c := range calls {
			want := id + ":list"
			if c.page > 1 {
				want += ":page" + strconv.Itoa(c.page)
			}
			if c.path == "/list" && c.key != want {
				t.Errorf("page %d sent Idempotency-Key %q, want %q", c.page, c.key, want)
			}
		}

		// The same read through an api without limits gives the same output.
		fast, err := e.Start(ctx, set.Workflow("read_fast"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		ref := wantPages(t, waitRun(t, e, fast), 1, 1, 1, 1, 1, 1)
		for _, k := range []string{"status", "body", "items", "pages", "next"} {
			if got, want := jsonOf(t, out[k]), jsonOf(t, ref[k]); got != want {
				t.Errorf("%s is %s when the step was held back, %s when it was not", k, got, want)
			}
		}
		if !reflect.DeepEqual(keysOf(out), keysOf(ref)) {
			t.Errorf("output fields %v, want %v", keysOf(out), keysOf(ref))
		}
		// Nothing is left of the pages kept: the job is gone with its commit.
		if keys := b.Keys(ctx, "*job:"+id+"*"); len(keys) != 0 {
			t.Errorf("keys left of the step's job: %v", keys)
		}
	})
}

// A worker that dies while reading a page leaves the pages before it kept: the worker
// that takes the step over goes on from that page, sending it again with the same
// Idempotency-Key, and the run records each page once, and the dead worker's attempt,
// lost, after the pages it read.
func TestPagesGoOnAfterTheWorkerDied(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newListAPI(t)
		e, set := pagesEngine(t, b, fmt.Sprintf(pagesSrc, api.srv.URL))
		ctx := context.Background()
		wf := set.Workflow("read_fast")
		id, err := e.Start(ctx, wf, event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		dead, _, err := e.q.lease(ctx, e.q.shardFor(wf.Name), 1)
		if err != nil || len(dead) != 1 {
			t.Fatalf("lease: %v %v", dead, err)
		}
		// The dead worker reads pages 1 and 2, and dies while it waits for page 3.
		died, die := context.WithCancel(ctx)
		api.onPage = func(page int, r *http.Request) {
			if page == 3 {
				die()
				<-r.Context().Done() // never answered: the worker is gone
			}
		}
		c := &workflows.Call{Env: &workflows.Env{}, RunID: id, Workflow: wf.Name, Step: "list", Attempt: dead[0].attempt,
			Secrets: wf.Secrets, Pages: e.q.pagesOf(dead[0], wf.Steps[0])}
		if _, err := wf.Steps[0].Action.Do(died, c); err == nil {
			t.Fatal("the dead worker's read did not stop at page 3")
		}
		api.onPage = nil

		startPool(t, e, 1)
		r := waitRun(t, e, id)
		reqs := r.Steps[0].Requests
		if len(reqs) != listPages+1 || !reqs[2].Lost || reqs[2].Attempt != 1 || reqs[2].Page != 0 {
			t.Fatalf("requests recorded %+v: want the dead worker's attempt lost after its pages", reqs)
		}
		r.Steps[0].Requests = slices.Delete(slices.Clone(reqs), 2, 3)
		wantPages(t, r, 1, 1, 2, 2, 2, 2)
		if want := map[int]int{1: 1, 2: 1, 3: 2, 4: 1, 5: 1, 6: 1}; !reflect.DeepEqual(api.perPage(), want) {
			t.Errorf("requests per page %v, want %v: only the page being read when the worker died again", api.perPage(), want)
		}
		for _, c := range api.calls() {
			if c.page == 3 && c.key != id+":list:page3" {
				t.Errorf("page 3 sent Idempotency-Key %q, want %q", c.key, id+":list:page3")
			}
		}
	})
}

// A retry reads the list again from the first page: what the failed attempt kept is
// dropped with it.
func TestPagesRetryStartsAtTheFirstPage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newListAPI(t)
		var mu sync.Mutex
		failed := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			fail := r.URL.Query().Get("page") == "4" && !failed
			failed = failed || fail
			mu.Unlock()
			if fail {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			api.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		e, set := pagesEngine(t, b, fmt.Sprintf(pagesSrc, srv.URL)+`
workflow "retried" {
  step "http" "list" {
    api = "fast"
    url = "/list?page=1"
    paginate {
      next  = "response.body.next"
      items = "response.body.data"
    }
    retry {
      attempts = 2
      initial  = "10ms"
    }
  }
}
`)
		startPool(t, e, 1)
		id, err := e.Start(context.Background(), set.Workflow("retried"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded || r.Steps[0].Attempts != 2 {
			t.Fatalf("run %s after %d attempts: %s", r.Status, r.Steps[0].Attempts, r.Error)
		}
		if want := map[int]int{1: 2, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1}; !reflect.DeepEqual(api.perPage(), want) {
			t.Errorf("requests per page %v, want %v", api.perPage(), want)
		}
		reqs := r.Steps[0].Requests
		if len(reqs) != 4+listPages || reqs[3].Page != 4 || reqs[3].Status != 503 || reqs[3].Attempt != 1 || reqs[4].Page != 1 || reqs[4].Attempt != 2 {
			t.Errorf("requests recorded: %+v", reqs)
		}
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The pages a step keeps come back with its job's next lease, the requests of the
// latest pages only (as many as a record keeps); a retry drops them all.
func TestPagesKeptWithTheJob(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		e, set := pagesEngine(t, b, fmt.Sprintf(pagesSrc, "http://127.0.0.1:1"))
		wf := set.Workflow("read_fast")
		id, err := e.Start(ctx, wf, event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		sh := e.q.shardFor(wf.Name)
		jobs, _, err := e.q.lease(ctx, sh, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("lease: %v %v", jobs, err)
		}
		store := e.q.pagesOf(jobs[0], wf.Steps[0])
		const n = maxRecordedRequests + 3
		for i := 1; i <= n; i++ {
			p := workflows.KeptPage{Page: i, URL: fmt.Sprintf("http://x/list?page=%d", i), Next: fmt.Sprintf("http://x/list?page=%d", i+1),
				Items: []any{i, "x"}, Request: &workflows.Request{Attempt: 1, Page: i, Status: 200}}
			if err := store.Keep(ctx, p, map[string]any{"status": 200, "body": map[string]any{"page": i}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Keep(ctx, workflows.KeptPage{Page: n + 2}, nil); err == nil {
			t.Error("a page kept out of turn")
		}
		if err := e.q.deferJob(ctx, jobs[0], wf.Name, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		// A stale token keeps nothing.
		if err := store.Keep(ctx, workflows.KeptPage{Page: n + 1, Request: &workflows.Request{}}, nil); !errors.Is(err, errStaleLease) {
			t.Errorf("a page kept with the job no longer leased: %v", err)
		}
		var again []*job
		testutil.Eventually(t, 5*time.Second, "the job leased again", func() bool {
			again, _, err = e.q.lease(ctx, sh, 1)
			return err == nil && len(again) == 1
		})
		if again[0].pages != n || again[0].attempt != 1 {
			t.Fatalf("leased again with %d pages kept, attempt %d; want %d, 1", again[0].pages, again[0].attempt, n)
		}
		kept, last, err := e.q.pagesOf(again[0], wf.Steps[0]).Kept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != n || kept[n-1].Next != fmt.Sprintf("http://x/list?page=%d", n+1) || fmt.Sprint(last["body"]) != fmt.Sprintf("map[page:%d]", n) {
			t.Fatalf("kept %d pages, the last %+v, its response %v", len(kept), kept[n-1], last)
		}
		for i, k := range kept {
			if !reflect.DeepEqual(k.Items, []any{i + 1, "x"}) {
				t.Errorf("page %d's items kept as %#v", i+1, k.Items)
			}
			if hasReq := k.Request != nil; hasReq != (i >= n-maxRecordedRequests) || hasReq && k.Request.Page != i+1 {
				t.Errorf("page %d's request kept as %+v", i+1, k.Request)
			}
		}
		rec := &Record{Status: StatusRetrying, Attempt: 1, Error: "page 54: 503"}
		if err := e.q.retry(ctx, again[0], id, wf.Name, rec, 0, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		noPages(t, b, sh.job(again[0].id), "after its attempt failed")

		// Cancelled while it reads its pages, the run leaves none in the job's tombstone.
		testutil.Eventually(t, 5*time.Second, "the job leased for its retry", func() bool {
			again, _, err = e.q.lease(ctx, sh, 1)
			return err == nil && len(again) == 1
		})
		if again[0].pages != 0 {
			t.Errorf("the retry was leased with %d pages kept", again[0].pages)
		}
		p := workflows.KeptPage{Page: 1, URL: "http://x/", Next: "http://x/?page=2", Request: &workflows.Request{Attempt: 2, Page: 1}}
		if err := e.q.pagesOf(again[0], wf.Steps[0]).Keep(ctx, p, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		noPages(t, b, sh.job(again[0].id), "once its run was cancelled")
	})
}

// noPages fails t when the job hash at key keeps pages.
func noPages(t *testing.T, b *redistest.Backend, key, when string) {
	t.Helper()
	fields, err := b.Client.HKeys(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if f == "pages" || f == "response" || strings.HasPrefix(f, "page:") || strings.HasPrefix(f, "request:") {
			t.Errorf("the job keeps %s %s", f, when)
		}
	}
}
