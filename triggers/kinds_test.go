package triggers

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// The registry: kinds by name, a duplicate refused, poll only with an http step kind,
// which kinds' events the filter decides, and which trigger shapes an event by hand.
func TestRegistry(t *testing.T) {
	r := Default()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a kind registered twice did not panic")
			}
		}()
		r.Add(Kind{Name: "poll"})
	}()
	bare := workflows.NewKinds()
	r.Register(bare)
	if _, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(`workflow "w" {
  trigger "poll" {
    every = "1m"
    url   = "https://example.com"
    items = "response.body"
    key   = "item.id"
  }
}`)}}, bare); !diags.HasErrors() {
		t.Error("a poll trigger loaded without an http step kind to send it")
	}
	for trigger, want := range map[string]bool{"webhook": true, "poll": true, "schedule": false, "manual": false} {
		if got := r.Filtered(trigger); got != want {
			t.Errorf("Filtered(%s) = %v", trigger, got)
		}
	}

	set := loadPolls(t, nil, `
workflow "both" {
  trigger "schedule" {
    every = "1h"
  }
  trigger "webhook" {
    path = "/both"
  }
}
workflow "ticks" {
  trigger "schedule" {
    every = "1h"
  }
  trigger "poll" {
    every = "1m"
    url   = "https://example.com/orders"
    items = "response.body"
    key   = "item.id"
  }
}
`)
	at := time.Date(2026, 3, 2, 9, 14, 5, 0, time.UTC)
	for _, c := range []struct {
		wf    string
		given bool
		want  string // the trigger kind that shaped it, and the event's trigger
	}{
		{"both", false, "webhook"}, // the webhook, first in the registry, whatever the file order
		{"ticks", false, "schedule"},
		{"ticks", true, "poll"}, // a body given is a poll's item, not a tick
	} {
		ev := &workflows.Event{Trigger: "manual", ReceivedAt: at, Raw: `{"id": 1}`, ContentType: "application/json"}
		if got := r.LocalEvent(set.Workflow(c.wf), ev, c.given); got != c.want || ev.Trigger != c.want {
			t.Errorf("%s, given %v: shaped by %q as a %s event, want %s", c.wf, c.given, got, ev.Trigger, c.want)
		}
		if c.want == "schedule" && fmt.Sprint(ev.Body) != "map[catch_up:false schedule:every 1h scheduled_at:2026-03-02T09:00:00Z]" {
			t.Errorf("a tick by hand: %v", ev.Body)
		}
		if c.want == "poll" && ev.Poll["time"] != "2026-03-02T09:14:05Z" {
			t.Errorf("an item by hand: poll %v", ev.Poll)
		}
	}
}
