package triggers

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// The event hookflow run and hookflow test make of a webhook with {name} segments,
// given the params of a request, has the path serve records for that request: the
// values in place of the names, decoded as serve decodes them. A name not given keeps
// its segment, and is said.
func TestWebhookLocalEventPath(t *testing.T) {
	const src = `workflow "ev" {
  trigger "webhook" {
    path = "/ev/{id}/lines/{line}/"
  }
}
`
	srv, starter := serveHooks(t, "ev.hcl", src)
	set, diags := loadHooks("ev.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	w := set.Workflow("ev").Triggers[0].Config.(*Webhook)
	for i, sent := range []string{"/ev/42/lines/7/", "/ev/a%20b/lines/%C3%A9/", "/ev/x%3Fy/lines/1/"} {
		if a := send(t, "POST", srv.URL+"/hooks"+sent, "application/json", []byte(`{}`)); a.status != http.StatusAccepted {
			t.Fatalf("%s: status %d %v", sent, a.status, a.body)
		}
		served := starter.events["ev"][i]
		ev := &workflows.Event{Params: served.Params}
		if !w.LocalEvent(ev, true) || ev.Path != served.Path || ev.Method != "POST" || ev.Trigger != "webhook" {
			t.Errorf("%s: made %s %q (%s), serve recorded %q", sent, ev.Method, ev.Path, ev.Trigger, served.Path)
		}
	}
	path, missing := w.RequestPath(map[string]string{"id": "42"})
	if path != "/ev/42/lines/{line}/" || !reflect.DeepEqual(missing, []string{"line"}) {
		t.Errorf("without line: %q, missing %v", path, missing)
	}
}
