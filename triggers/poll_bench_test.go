package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
)

// BenchmarkPoll10k measures one poll of 10,000 new items, from the request to the
// 10,000th run started (queued in Redis, its first step ready): the answers read, each
// item's key, and for each item one atomic check-and-start of its run. No worker takes
// the runs. Each op is one poll; every poll's items are new (their ids carry the
// poll's number), and the runs of earlier polls stay queued. In one page, and in 20
// pages of 500 read through paginate by page number.
func BenchmarkPoll10k(b *testing.B) {
	b.Run("one page", func(b *testing.B) { benchPoll(b, 10_000, "") })
	b.Run("20 pages", func(b *testing.B) {
		benchPoll(b, 500, `
    paginate {
      next      = "len(response.body.orders) == 0 ? nil : with_query(request.url, {page: page + 1})"
      max_pages = 21
    }`)
	})
}

// benchPoll is BenchmarkPoll10k with perPage items a page (a page past 10,000 items
// is empty) and the poll's paginate block, if any.
func benchPoll(b *testing.B, perPage int, paginate string) {
	const n = 10_000
	var round atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		k := round.Load()
		if page == 1 {
			k = round.Add(1)
		}
		items := []map[string]any{}
		for i := (page - 1) * perPage; i < min(page*perPage, n); i++ {
			items = append(items, map[string]any{"id": fmt.Sprintf("r%d-o%d", k, i), "total": 1999, "currency": "EUR", "status": "paid"})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"orders": items})
	}))
	defer srv.Close()
	set := loadPolls(b, srv.Client(), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every     = "1m"
    url       = "%s/orders"
    items     = "response.body.orders"
    key       = "item.id"
    max_items = 10000
    backfill  = true%s
  }
  step "log" "seen" {
    message = "{{ event.body.id }}"
  }
}
`, srv.URL, paginate))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	for _, bk := range []struct {
		name string
		new  func(testing.TB) *redistest.Backend
	}{{"redis-server", redistest.Real}, {"miniredis", redistest.Mini}} {
		b.Run(bk.name, func(b *testing.B) {
			be := bk.new(b)
			e := engine.New(be.Client, engine.Options{Logger: quietLog, Shards: be.Shards})
			e.Use(set)
			p := NewPoller(e, quietLog)
			at := time.Now().Add(-time.Hour)
			b.ResetTimer()
			for i := range b.N {
				out, err := p.poll(context.Background(), wf, poll, at.Add(time.Duration(i)*time.Second))
				if err != nil || out.started != n {
					b.Fatalf("started %d of %d: %v", out.started, n, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
