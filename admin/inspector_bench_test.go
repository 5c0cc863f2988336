package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkInspectorPages times the inspector's pages over a real redis-server holding
// 100,000 runs (one in ten failed), as a deployment a week old holds them: the runs
// list, filtered by workflow and status, a text search, and one run's page.
//
//	go test ./admin -run XXX -bench BenchmarkInspectorPages -benchtime 50x
func BenchmarkInspectorPages(b *testing.B) {
	const runs = 100_000
	k := workflows.NewKinds()
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "orders" {}
workflow "refunds" {}
`)}}, k)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	be := redistest.Real(b)
	e := engine.New(be.Client, engine.Options{Logger: quiet, Kinds: k})
	e.Use(set)
	start := time.Now()
	var wg sync.WaitGroup
	var last string
	var mu sync.Mutex
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < runs; i += 16 {
				wf := set.Workflow("orders")
				if i%4 == 0 {
					wf = set.Workflow("refunds")
				}
				ev := &workflows.Event{ID: fmt.Sprint("e", i), Trigger: "webhook", Method: "POST", Path: "/hooks/orders",
					ReceivedAt: time.Now(), ContentType: "application/json", Raw: fmt.Sprintf(`{"order": "ord_%d", "total": %d}`, i, i)}
				var id string
				var err error
				if i%10 == 0 {
					id, err = e.StartFailed(context.Background(), wf, ev, "filter: a bug")
				} else {
					id, err = e.Start(context.Background(), wf, ev)
				}
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				last = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.Logf("%d runs stored in %s", runs, time.Since(start).Round(time.Second))
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	for _, page := range []string{"/", "/?workflow=orders&status=failed", "/?q=ord_99999", "/runs/" + last} {
		b.Run(page, func(b *testing.B) {
			for range b.N {
				resp, err := http.Get(srv.URL + page)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", page, resp.StatusCode)
				}
			}
		})
	}
}
