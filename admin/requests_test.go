package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// What the history keeps of each request is bounded whatever the event holds: an id
// of 200 KB sent in a header and in the query by each of 20 items is kept cut, with
// the marker, in the records Redis holds and in the run the API shows.
func TestRecordedRequestsAreBounded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Echo", r.Header.Get("X-Order")[:5000])
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		}))
		defer api.Close()
		_, _, srv := serveAPIOn(t, b, `
workflow "hdr" {
  step "http" "line" {
    for_each     = "event.body.items"
    max_parallel = 20
    url          = "`+api.URL+`/sku/{{ each.value.sku }}"
    query        = { order = "{{ event.body.id }}" }
    headers      = { X-Order = "{{ event.body.id }}" }
  }
}
`)
		const items, idLen = 20, 200_000
		list := make([]map[string]int, items)
		for i := range list {
			list[i] = map[string]int{"sku": i}
		}
		body, _ := json.Marshal(map[string]any{"id": strings.Repeat("A", idLen), "items": list})
		resp, err := http.Post(srv.URL+"/api/v1/workflows/hdr/runs", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var started map[string]string
		decode(t, resp, http.StatusAccepted, &started)
		id := started["run_id"]
		waitStatus(t, srv.URL, id, "succeeded")

		// An item's record: a URL and a header of 2 KiB, the others small, and an output
		// of 5 KB of headers. Whole, it held the id twice.
		const bound = 16 << 10
		records := 0
		for _, key := range b.Keys(context.Background(), "*results:"+id+":line") {
			for field, v := range b.Client.HGetAll(context.Background(), key).Val() {
				records++
				if len(v) > bound {
					t.Errorf("item %s's record is %d bytes, past %d", field, len(v), bound)
				}
			}
		}
		if records != items {
			t.Fatalf("%d item records in Redis, want %d", records, items)
		}

		var run engine.Run
		get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
		if len(run.Steps) != 1 || len(run.Steps[0].Items) != items {
			t.Fatalf("run %+v", run)
		}
		for i, it := range run.Steps[0].Items {
			if len(it.Requests) != 1 {
				t.Errorf("item %d: %d requests", i, len(it.Requests))
				continue
			}
			q := it.Requests[0]
			sent := len(fmt.Sprintf("%s/sku/%d?order=", api.URL, i)) + idLen
			urlCut := fmt.Sprintf(" [cut: the url is %d bytes; the first %d are kept]", sent, workflows.MaxRecordedValue)
			headerCut := fmt.Sprintf(" [cut: the value is %d bytes; the first %d are kept]", idLen, workflows.MaxRecordedValue)
			if !strings.HasPrefix(q.URL, fmt.Sprintf("%s/sku/%d?order=AAAA", api.URL, i)) || !strings.HasSuffix(q.URL, urlCut) {
				t.Errorf("item %d's url: ...%q, want it cut with %q", i, q.URL[max(0, len(q.URL)-80):], urlCut)
			}
			if v := q.Headers["X-Order"]; v != strings.Repeat("A", workflows.MaxRecordedValue)+headerCut {
				t.Errorf("item %d's X-Order: %d bytes ...%q, want it cut with %q", i, len(v), v[max(0, len(v)-80):], headerCut)
			}
			answerCut := " [cut: the value is 5000 bytes; the first 2048 are kept]"
			if q.Response == nil || !strings.HasSuffix(q.Response.Headers["X-Echo"], answerCut) {
				t.Errorf("item %d's answer: %+v, want X-Echo cut with %q", i, q.Response, answerCut)
			}
		}
	})
}
