package triggers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// pagedShop answers GET /orders?page=N with 3 orders a page, 4 pages in all, and a
// Link header to the next page.
func pagedShop(t *testing.T) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var asked []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RawQuery)
		mu.Unlock()
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		if page < 4 {
			w.Header().Set("Link", fmt.Sprintf(`<%s/orders?page=%d>; rel="next"`, srv.URL, page+1))
		}
		w.Header().Set("Content-Type", "application/json")
		var orders []string
		for i := range 3 {
			orders = append(orders, fmt.Sprintf(`{"id":"o%d"}`, 3*(page-1)+i+1))
		}
		fmt.Fprintf(w, `{"orders":[%s],"page":%d}`, strings.Join(orders, ","), page)
	}))
	t.Cleanup(srv.Close)
	return srv, &asked
}

const pagedPollSrc = `
workflow "orders%d" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    items     = "response.body.orders"
    key       = "item.id"
    cursor    = "response.body.page"
    backfill  = true
    max_items = %d
    paginate {
      next = "link_next(response)"
    }
  }
}
`

// A poll with a paginate block reads every page: the items of all of them start
// runs, each run's event says its page, and the cursor is read from the last page.
// max_items caps the runs one poll starts (and the pages read): the poll then keeps
// the cursor it had, and the next one reads the list again, skips what started and
// starts the rest.
func TestPollPaginates(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		for _, tt := range []struct {
			maxItems, runs, requests int
			cursor                   any // after the first poll
		}{
			{1000, 12, 4, "4"},
			{7, 7, 3, nil},
		} {
			srv, asked := pagedShop(t)
			set := loadPolls(t, srv.Client(), fmt.Sprintf(pagedPollSrc, tt.maxItems, srv.URL, tt.maxItems))
			wf := set.Workflow(fmt.Sprintf("orders%d", tt.maxItems))
			poll := wf.Triggers[0].Config.(*Poll)
			e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
			e.Use(set)
			var mu sync.Mutex
			runs := map[string]int{}
			pages := map[string]any{}
			polls := pageRecorder{countingPolls{Engine: e, mu: &mu, runs: runs}, pages}
			p := NewPoller(polls, quietLog)
			at := time.Now().Add(-time.Duration(tt.maxItems) * time.Hour)
			if _, err := p.poll(context.Background(), wf, poll, at); err != nil {
				t.Fatal(err)
			}
			if len(runs) != tt.runs || len(*asked) != tt.requests {
				t.Errorf("max_items %d: %d runs from %d requests, want %d from %d", tt.maxItems, len(runs), len(*asked), tt.runs, tt.requests)
			}
			if pages["o1"] != 1 || pages["o7"] != 3 {
				t.Errorf("event.poll.page of o1, o7: %v, %v; want 1, 3", pages["o1"], pages["o7"])
			}
			st, found, err := e.PollState(context.Background(), wf, poll.Key())
			if cursor := st.Cursor; err != nil || !found || fmt.Sprint(cursor) != fmt.Sprint(tt.cursor) {
				t.Errorf("max_items %d: cursor %v (%v %v), want %v", tt.maxItems, cursor, found, err, tt.cursor)
			}
			// The next poll starts what the first left, and reads the list to its end.
			if _, err := p.poll(context.Background(), wf, poll, at.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if len(runs) != 12 || pages["o12"] != 4 {
				t.Errorf("max_items %d: %d runs after a second poll (o12 on page %v), want one for each of the 12 items", tt.maxItems, len(runs), pages["o12"])
			}
			for id, n := range runs {
				if n != 1 {
					t.Errorf("item %s started %d runs", id, n)
				}
			}
			if st, _, _ := e.PollState(context.Background(), wf, poll.Key()); fmt.Sprint(st.Cursor) != "4" {
				t.Errorf("max_items %d: cursor %v after a poll that read the list to its end, want its last page, 4", tt.maxItems, st.Cursor)
			}
		}
	})
}

type pageRecorder struct {
	countingPolls
	pages map[string]any
}

func (p pageRecorder) StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (string, bool, error) {
	p.mu.Lock()
	p.pages[ev.Body.(map[string]any)["id"].(string)] = ev.Poll["page"]
	p.mu.Unlock()
	return p.countingPolls.StartOnce(ctx, wf, ev, key, window)
}

func TestPollPaginateDiagnostics(t *testing.T) {
	src := `workflow "w" {
  trigger "poll" {
    every = "1m"
    url   = "https://example.com/x"
    items = "response.body"
    key   = "item.id"
    paginate {
      next  = "link_next(response)"
      items = "response.body"
    }
  }
}`
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quietLog})
	Register(k)
	_, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, k)
	if !strings.Contains(diags.Error(), "w.hcl:7,5-13: A poll's paginate takes no items") {
		t.Errorf("diagnostics %q", diags.Error())
	}
}
