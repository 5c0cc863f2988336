package triggers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// slowAPI answers GET /orders?page=N with one order a page and a Link to the next, 3
// pages in all, after a wait of slow on the page slowPage (every page when 0), or
// when the request is given up.
func slowAPI(t *testing.T, slowPage string, slow time.Duration) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		if page == "" {
			page = "1"
		}
		if slowPage == "" || slowPage == page {
			select {
			case <-time.After(slow):
			case <-r.Context().Done():
				return
			}
		}
		if page != "3" {
			w.Header().Set("Link", fmt.Sprintf(`<%s/api/orders?page=%c>; rel="next"`, srv.URL, page[0]+1))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"orders": [{"id": "o%s"}]}`, page)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Each request of a poll gets its timeout: the poll's own, else its api's, else the
// 30s a step gets. One that takes longer fails the poll, saying so.
func TestPollRequestTimeout(t *testing.T) {
	const src = `
api "shop" {
  base_url = "%s/api"%s
}
workflow "orders" {
  trigger "poll" {
    every    = "1m"
    api      = "shop"
    url      = "/orders"
    items    = "response.body.orders"
    key      = "item.id"
    backfill = true%s
  }
}
`
	const paginate = "\n    paginate {\n      next = \"link_next(response)\"\n    }"
	for _, c := range []struct {
		name, api, poll, slowPage string
		want                      time.Duration
		err                       string
	}{
		{"the api's", "\n  timeout = \"300ms\"", "", "", 300 * time.Millisecond, "GET %s/api/orders: timed out after 300ms, with no answer"},
		{"the poll's own", "\n  timeout = \"1h\"", "\n    timeout = \"200ms\"", "", 200 * time.Millisecond, "timed out after 200ms"},
		{"a step's", "", "", "", workflows.DefaultStepTimeout, ""},
		{"longer than a poll's bound", "", "\n    timeout = \"5m\"", "", 5 * time.Minute, ""},
		{"each page's", "\n  timeout = \"300ms\"", paginate, "2", 300 * time.Millisecond,
			"page 2: GET %s/api/orders?page=2: timed out after 300ms, with no answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := slowAPI(t, c.slowPage, 5*time.Second)
			set := loadPolls(t, srv.Client(), fmt.Sprintf(src, srv.URL, c.api, c.poll))
			wf := set.Workflow("orders")
			poll := wf.Triggers[0].Config.(*Poll)
			if poll.Timeout != c.want {
				t.Errorf("timeout %s, want %s", poll.Timeout, c.want)
			}
			if bound := NewPoller(nil, quietLog).pollBound(poll); bound != max(pollTimeout, 2*c.want) {
				t.Errorf("a poll may take %s, want %s: room for a request that takes its timeout", bound, max(pollTimeout, 2*c.want))
			}
			if c.err == "" {
				return
			}
			e := engine.New(redistest.Mini(t).Client, engine.Options{Logger: quietLog})
			e.Use(set)
			p := NewPoller(e, quietLog)
			start := time.Now()
			_, err := p.poll(context.Background(), wf, poll, start.Truncate(time.Minute))
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the poll took %s, with a timeout of %s", took, c.want)
			}
			if want := strings.ReplaceAll(c.err, "%s", srv.URL); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}
