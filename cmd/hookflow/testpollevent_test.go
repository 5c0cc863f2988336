package main

import (
	"strings"
	"testing"
)

// pollAndWebhook is a workflow with a webhook first and a poll, whose step shows what
// the event has of a request's, and the poll's time.
const pollAndWebhook = `workflow "orders" {
  trigger "webhook" {
    path = "/o/{id}"
  }
  trigger "poll" {
    every = "1h"
    url   = "https://shop.example.com/orders"
    items = "response.body.orders"
    key   = "item.id"
  }
  trigger "schedule" {
    every = "1h"
  }
  step "set" "seen" {
    h  = "{{ len(event.headers) }}"
    p  = "{{ event.params }}"
    q  = "{{ event.query }}"
    at = "{{ event.poll.time }}"
  }
}
`

// A test's event of a poll's item is serve's: no headers, params or query, as no
// request made it, and event.poll.time in UTC, as serve writes it, whatever offset the
// test writes it with.
func TestWorkflowTestsPollEventAsServed(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": pollAndWebhook, "w.test.hcl": `test "poll" {
  workflow = "orders"
  event {
    trigger = "poll"
    body    = { id = "o1" }
    poll    = { time = "2026-03-02T10:00:00+01:00" }
  }
  expect "seen" {
    output = { h = 0, p = {}, q = {}, at = "2026-03-02T09:00:00Z" }
  }
}
`})
	if out, code := hookflowTest(t, dir); code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// A test's event of a poll's item or a schedule's tick that gives headers, a query or
// params fails the test, saying to leave them out: serve's has none.
func TestWorkflowTestsTickOrItemWithRequestParts(t *testing.T) {
	for _, tc := range []struct{ event, want string }{
		{`trigger = "poll"
    body    = { id = "o1" }
    params  = { id = "x" }
    query   = { a = "1" }`, `the event is a poll's item, which no request makes, so it has no headers, query or params, under serve as here: leave out query and params`},
		{`trigger = "schedule"
    headers = { X-Req = "1" }`, `the event is a schedule's tick, which no request makes, so it has no headers, query or params, under serve as here: leave out headers`},
	} {
		dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": pollAndWebhook, "w.test.hcl": `test "t" {
  workflow = "orders"
  event {
    ` + tc.event + `
  }
}
`})
		if out, code := hookflowTest(t, dir); code != exitFailed || !strings.Contains(out, tc.want) {
			t.Errorf("exit %d, want %d with %q:\n%s", code, exitFailed, tc.want, out)
		}
	}
}
