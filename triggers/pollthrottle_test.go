package triggers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// A poll held back by its api's limits (here the Retry-After of a 429 an earlier poll
// got) waits its turn within its tick and polls, rather than count as a failed poll
// and back off.
func TestPollWaitsForItsAPI(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		var calls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"orders": [{"id": "o1"}]}`))
		}))
		defer srv.Close()
		p, _, wf, poll := apiPoller(t, b, srv.Client(), fmt.Sprintf(shopPoll, srv.URL, ""))
		at := time.Now().Truncate(time.Minute)
		first := &streak{}
		p.tick(context.Background(), wf, poll, first, at.Add(-time.Minute))
		if first.failures != 1 {
			t.Fatalf("the poll answered 429 counts %d failures, want 1", first.failures)
		}
		second := &streak{}
		p.tick(context.Background(), wf, poll, second, at)
		if second.failures != 0 || calls.Load() != 2 {
			t.Errorf("the poll held back by the Retry-After: %d failures, %d calls; want it to wait and poll once", second.failures, calls.Load())
		}
	})
}

// shopPoll is a workflow polling an api "shop" at base URL %s, with more of the poll
// trigger in the second %s.
const shopPoll = `
api "shop" {
  base_url = "%s"
}
workflow "orders" {
  trigger "poll" {
    every    = "1m"
    api      = "shop"
    url      = "/orders"
    items    = "response.body.orders"
    key      = "item.id"
    backfill = true
    %s
  }
}
`

// apiPoller loads src, whose workflow "orders" polls through an api, with the api's
// limits kept in b's Redis as serve keeps them, and returns a poller of it, its
// engine, the workflow and its poll.
func apiPoller(t *testing.T, b *redistest.Backend, client *http.Client, src string) (*Poller, *engine.Engine, *workflows.Workflow, *Poll) {
	t.Helper()
	return apiPollerOn(t, b, b.Client, client, src)
}

// apiPollerOn is apiPoller with the api's limits kept in the Redis of apisRedis.
func apiPollerOn(t *testing.T, b *redistest.Backend, apisRedis redis.UniversalClient, client *http.Client, src string) (*Poller, *engine.Engine, *workflows.Workflow, *Poll) {
	t.Helper()
	apis := actions.NewAPIs()
	apis.Connect(apisRedis)
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Client: client, Logger: quietLog, APIs: apis})
	Register(k)
	set, diags := workflows.Load([]workflows.Source{{Name: "poll.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
	e.Use(set)
	wf := set.Workflow("orders")
	return NewPoller(e, quietLog), e, wf, wf.Triggers[0].Config.(*Poll)
}

// A poll whose api cannot read its limits because Redis does not answer fails, and
// backs off as a failed poll does: it does not wait and ask again as when the limits
// hold it back, which would ask Redis each second until the poll's bound.
func TestPollFailsWhileItsAPIsRedisDoesNotAnswer(t *testing.T) {
	b := redistest.Mini(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"orders": []}`))
	}))
	defer srv.Close()
	// A Redis that takes each connection and closes it: every command fails, each on a
	// connection of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	dead := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1})
	defer dead.Close()
	p, _, wf, poll := apiPollerOn(t, b, dead, srv.Client(), fmt.Sprintf(shopPoll, srv.URL, `timeout = "10s"`))
	st := &streak{}
	p.tick(context.Background(), wf, poll, st, time.Now().Truncate(time.Minute))
	if st.failures != 1 || calls.Load() != 0 {
		t.Errorf("the poll counts %d failures and sent %d requests; want 1 and none", st.failures, calls.Load())
	}
	if n := conns.Load(); n > 3 {
		t.Errorf("the poll asked Redis %d times: it waited and asked again", n)
	}
}
