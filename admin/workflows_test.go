package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/workflows"
)

// The workflow view names each step's for_each and parallel block.
func TestWorkflowViewShowsForEachAndParallel(t *testing.T) {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(`
workflow "order" {
  step "http" "reserve" {
    for_each     = "event.body.lines"
    max_parallel = 4
    url          = "https://wh.example.com/reserve/{{ each.value.sku }}"
  }
  parallel "notify" {
    step "http" "slack" {
      url = "https://hooks.example.com/slack"
    }
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	data, _ := json.Marshal(describe(set.Workflow("order")).Steps)
	want := `[{"name":"reserve","kind":"http","for_each":"event.body.lines","max_parallel":4},` +
		`{"name":"slack","kind":"http","parallel":"notify"}]`
	if string(data) != want {
		t.Errorf("steps %s\nwant  %s", data, want)
	}
}

// The workflows page shows each poll trigger as hookflow workflows does: what it asks,
// when it next polls, and how its polls went, failing ones with their error.
func TestInspectorShowsPolls(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "orders" {
  trigger "poll" {
    every = "1h"
    url   = "https://shop.example.com/orders?status=paid"
    items = "response.body.orders"
    key   = "item.id"
  }
  step "log" "x" {
    message = "{{ event.body.id }}"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	wf := set.Workflow("orders")
	key := wf.Triggers[0].Config.(stateful).StateKey()
	poll := func() string {
		t.Helper()
		page := fetchPage(t, srv.URL+"/workflows")
		i := strings.Index(page, `<dd class="poll">`)
		if i < 0 {
			t.Fatalf("no poll on the workflows page:\n%s", page)
		}
		return page[i : i+strings.Index(page[i:], "</dd>")]
	}
	for _, want := range []string{"GET https://shop.example.com/orders?status=paid", "every 1h (UTC), next <time", "Not polled yet."} {
		if got := poll(); !strings.Contains(got, want) {
			t.Errorf("a poll never polled lacks %q:\n%s", want, got)
		}
	}
	ctx := context.Background()
	for range 2 {
		if err := e.RecordPoll(ctx, wf, key, 0, "GET https://shop.example.com/orders?status=paid: status 500 <Internal Server Error>"); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"failing</span> 2 in a row, the last at <time", "no good poll yet",
		"<pre>GET https://shop.example.com/orders?status=paid: status 500 &lt;Internal Server Error&gt;</pre>"} {
		if got := poll(); !strings.Contains(got, want) {
			t.Errorf("a failing poll lacks %q:\n%s", want, got)
		}
	}
	if err := e.RecordPoll(ctx, wf, key, 3, ""); err != nil {
		t.Fatal(err)
	}
	if got := poll(); !strings.Contains(got, "ok</span> last poll <time") || !strings.Contains(got, "3 runs started") || strings.Contains(got, "failing") {
		t.Errorf("a poll that went well:\n%s", got)
	}
}

// The workflow view, in the API and on the workflows page, has the workflow's timeout
// and its on_failure steps.
func TestWorkflowViewShowsTimeoutAndOnFailure(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "order" {
  timeout = "2h"
  step "log" "work" {
    message = "working"
  }
  on_failure {
    step "log" "page" {
      if      = "run.failed_step == 'work'"
      message = "{{ run.error }}"
    }
  }
}`)
	var info map[string]any
	get(t, api.URL+"/api/v1/workflows/order", http.StatusOK, &info)
	data, _ := json.Marshal(map[string]any{"timeout": info["timeout"], "on_failure": info["on_failure"]})
	if want := `{"on_failure":[{"if":"run.failed_step == 'work'","kind":"log","name":"on_failure/page"}],"timeout":"2h"}`; string(data) != want {
		t.Errorf("GET /api/v1/workflows/order: %s\nwant %s", data, want)
	}
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/workflows")
	for _, want := range []string{`<dt>Timeout</dt><dd class="mono">2h</dd>`,
		`<dt>On failure</dt><dd><ol class="steps-brief"><li><span class="mono">on_failure/page</span> (log), if run.failed_step == &#39;work&#39;</li></ol></dd>`} {
		if !strings.Contains(page, want) {
			t.Errorf("no %s on the workflows page:\n%s", want, page)
		}
	}
}
