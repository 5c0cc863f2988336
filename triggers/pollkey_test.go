package triggers

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

const shopPollSrc = `
api "shop" {
  base_url = "%s"
}
workflow "orders" {
  trigger "poll" {
    %s
    api    = "shop"
    url    = "/orders"
    query  = { since = "{{ poll.cursor ?? '' }}" }
    items  = "response.body.orders"
    key    = "item.id"
    cursor = "response.body.next"
  }
}
`

// A poll's state is named by what it asks, not by when it asks: a poll whose every,
// cron or timezone changes is the same poll, and one whose request, items or key
// changes is another.
func TestPollKeyLeavesOutTheSchedule(t *testing.T) {
	key := func(schedule, url, items string) string {
		src := fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    %s
    url   = "%s"
    items = "%s"
    key   = "item.id"
  }
}`, schedule, url, items)
		return loadPolls(t, nil, src).Workflow("orders").Triggers[0].Config.(*Poll).Key()
	}
	const url, items = "https://shop.example.com/orders", "response.body.orders"
	base := key(`every = "1m"`, url, items)
	for _, schedule := range []string{`every = "5m"`, `cron = "*/5 * * * *"`, "cron = \"0 9 * * *\"\n timezone = \"Europe/Paris\""} {
		if got := key(schedule, url, items); got != base {
			t.Errorf("%s: key %q, want the poll's every 1m key %q", schedule, got, base)
		}
	}
	if key(`every = "1m"`, url+"/paid", items) == base || key(`every = "1m"`, url, "response.body.data") == base {
		t.Error("a poll asking another url, or reading other items, has the same key")
	}
}

// A poll whose schedule changes goes on from its last poll: the cursor is sent as it
// was kept, and the items that came meanwhile start their runs, rather than be
// recorded as there before a new poll's first.
func TestPollScheduleChangeKeepsItsState(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := &shop{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
		var mu sync.Mutex
		runs := map[string]int{}
		p := NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, quietLog)
		base := time.Now().Add(-time.Hour).Truncate(time.Hour)

		before := loadPolls(t, srv.Client(), fmt.Sprintf(shopPollSrc, srv.URL, `every = "1m"`))
		e.Use(before)
		wf := before.Workflow("orders")
		api.add(2)
		p.tick(context.Background(), wf, wf.Triggers[0].Config.(*Poll), &streak{}, base.Add(time.Minute))

		after := loadPolls(t, srv.Client(), fmt.Sprintf(shopPollSrc, srv.URL, `cron = "*/5 * * * *"`))
		e.Use(after)
		wf = after.Workflow("orders")
		api.add(3)
		p.tick(context.Background(), wf, wf.Triggers[0].Config.(*Poll), &streak{}, base.Add(5*time.Minute))

		mu.Lock()
		defer mu.Unlock()
		if len(runs) != 3 || runs["o3"] != 1 || runs["o5"] != 1 {
			t.Errorf("runs %v after the schedule changed, want one for each of o3, o4 and o5", runs)
		}
		api.mu.Lock()
		defer api.mu.Unlock()
		if fmt.Sprint(api.since) != "[ 2 2]" {
			t.Errorf("since sent %q, want \"\" then 2 (the first poll reading to the end of its list), then 2, the cursor kept by "+
				"the poll before the change", api.since)
		}
	})
}

// A poll reads the state kept under the key it had when keys named the schedule too
// ("poll every 1m0s …"), so it goes on from where it was rather than start over.
func TestPollReadsItsStateFromBeforeItsKeyLeftOutTheSchedule(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := &shop{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		set := loadPolls(t, srv.Client(), fmt.Sprintf(shopPollSrc, srv.URL, `every = "1m"`))
		e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
		e.Use(set)
		wf := set.Workflow("orders")
		ctx := context.Background()
		// What a poll before the change kept: 2 orders seen, and their cursor.
		const former = "poll every 1m0s 363de59e27db54a3"
		if err := e.SavePoll(ctx, wf, former, workflows.PollState{Cursor: 2}); err != nil {
			t.Fatal(err)
		}
		api.add(2)
		if err := e.MarkSeen(ctx, wf, []string{"poll:o1", "poll:o2"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		api.add(1)
		var mu sync.Mutex
		runs := map[string]int{}
		p := NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, quietLog)
		p.tick(ctx, wf, wf.Triggers[0].Config.(*Poll), &streak{}, time.Now().Add(-time.Hour).Truncate(time.Minute))
		if len(runs) != 1 || runs["o3"] != 1 {
			t.Errorf("runs %v, want one for o3, the order that came after the kept cursor", runs)
		}
		if fmt.Sprint(api.since) != "[2]" {
			t.Errorf("since sent %q, want the cursor kept under the former key, 2", api.since)
		}
	})
}

// A poll with no last tick under its key takes the one an older build claimed under
// the key it had then, which named its schedule too: the tick missed while no process
// ran is polled after the upgrade, as after a restart. Its own key, once there, wins.
func TestPollTakesItsLastTickFromBeforeItsKeyLeftOutTheSchedule(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		set := loadPolls(t, nil, fmt.Sprintf(shopPollSrc, "https://shop.example.com", `every = "1m"`))
		e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
		e.Use(set)
		wf := set.Workflow("orders")
		poll := wf.Triggers[0].Config.(*Poll)
		ctx := context.Background()
		// The last tick an older build claimed, under the key it gave the poll.
		claimed := time.Now().Add(-5 * time.Minute).Truncate(time.Minute)
		if ok, err := e.ClaimTick(ctx, wf, "poll every 1m0s 363de59e27db54a3", claimed); !ok || err != nil {
			t.Fatalf("claim %v, %v", ok, err)
		}
		last, err := poll.LastTick(ctx, e, wf)
		if err != nil || !last.Equal(claimed) {
			t.Fatalf("last tick %v, %v; want %v, the one claimed under the former key", last, err, claimed)
		}
		if due, _ := poll.Schedule.Due(last, time.Now()); due.IsZero() {
			t.Error("no tick is due: the one missed would not be polled")
		}
		next := claimed.Add(time.Minute)
		if ok, err := e.ClaimTick(ctx, wf, poll.Key(), next); !ok || err != nil {
			t.Fatalf("claim %v, %v", ok, err)
		}
		if last, err := poll.LastTick(ctx, e, wf); err != nil || !last.Equal(next) {
			t.Errorf("last tick %v, %v; want %v, the one claimed under its own key", last, err, next)
		}
	})
}

// A poll's json is part of its key: two GraphQL polls of one URL are two polls. The
// key of a poll without json is the one it had before json was.
func TestPollKeyTellsItsJSONApart(t *testing.T) {
	key := func(json string) string {
		src := fmt.Sprintf(`
workflow "issues" {
  trigger "poll" {
    every = "1m"
    url   = "https://api.example.com/graphql"
    %s
    items = "response.body.data.nodes"
    key   = "item.id"
  }
}`, json)
		return loadPolls(t, nil, src).Workflow("issues").Triggers[0].Config.(*Poll).Key()
	}
	issues := key(`json = { query = "{ issues { nodes { id } } }", variables = { first = 50 } }`)
	if pulls := key(`json = { query = "{ pullRequests { nodes { id } } }", variables = { first = 50 } }`); pulls == issues {
		t.Errorf("two polls sending other json have one key %q", issues)
	}
	if laidOut := key("json = {\n variables = { first = 50 }\n query = \"{ issues { nodes { id } } }\"\n }"); laidOut != issues {
		t.Errorf("the same json laid out otherwise: key %q, want %q", laidOut, issues)
	}
	if q := key(`json = { after = "{{ poll.cursor }}" }`); q == key(`json = { after = "{{ poll.time }}" }`) {
		t.Errorf("json reading other values: one key %q", q)
	}
	if got, want := key(""), "poll 38521a37d9376743"; got != want {
		t.Errorf("a poll without json: key %q, want the one it had, %q", got, want)
	}
}

// Two polls of one workflow that would share a key (they differ in their query alone)
// are a load error naming both, and saying what to change.
func TestTwoPollsOfOneWorkflowAskingAlikeAreALoadError(t *testing.T) {
	src := `workflow "issues" {
  trigger "poll" {
    every = "1m"
    url   = "https://api.example.com/issues"
    query = { state = "open" }
    items = "response.body"
    key   = "item.id"
  }
  trigger "poll" {
    every = "5m"
    url   = "https://api.example.com/issues"
    query = { state = "closed" }
    items = "response.body"
    key   = "item.id"
  }
}
workflow "other" {
  trigger "poll" {
    every = "1m"
    url   = "https://api.example.com/issues"
    items = "response.body"
    key   = "item.id"
  }
}
`
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quietLog})
	Register(k)
	_, diags := workflows.Load([]workflows.Source{{Name: "poll.hcl", Data: []byte(src)}}, k)
	if len(diags) != 1 {
		t.Fatalf("diagnostics: %v", diags)
	}
	d := diags[0]
	if d.Summary != "Two polls of one workflow ask alike" || d.Subject.Start.Line != 9 ||
		!strings.Contains(d.Detail, `Workflow "issues" already has a poll (at poll.hcl:2:3)`) ||
		!strings.Contains(d.Detail, "Write the query of one of them in its url") {
		t.Errorf("diagnostic: %s at %s: %s", d.Summary, d.Subject, d.Detail)
	}
}

// A poll's key written over keys() or values() of an item is the same at every poll:
// they give the item's keys, and their values, in the order of its keys.
func TestPollItemKeyOverValuesIsStable(t *testing.T) {
	set := loadPolls(t, nil, `
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "https://shop.example.com/orders"
    items = "response.body.orders"
    key   = "join(keys(item), ',') + '=' + join(values(item), ',')"
  }
}`)
	p := set.Workflow("orders").Triggers[0].Config.(*Poll)
	item := map[string]any{}
	for _, k := range strings.Split("k j i h g f e d c b a", " ") {
		item[k] = strings.ToUpper(k)
	}
	for range 20 {
		k, err := expr.Run(p.ItemKey, itemEnv{Item: item})
		if err != nil || k != "a,b,c,d,e,f,g,h,i,j,k=A,B,C,D,E,F,G,H,I,J,K" {
			t.Fatalf("key %v, %v", k, err)
		}
	}
}
