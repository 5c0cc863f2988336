package actions

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// deadRedis returns a client of an address where nothing listens: every command
// fails to connect, as one to a Redis that died, or to a primary of a Redis Cluster
// killed before its replica takes its place, does.
func deadRedis(t *testing.T) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// A step whose api cannot read what it shares in Redis (its limits, its OAuth2 token)
// because Redis does not answer sends nothing, and is held back (workflows.Throttled,
// "redis"), which the engine queues again counting no attempt: an outage of Redis
// neither uses up a step's retries nor fails one that has none. A Redis that answers
// with an error that lasts fails the attempt as before.
func TestAPIHeldBackWhileRedisDoesNotAnswer(t *testing.T) {
	heldForRedis := func(t *testing.T, err error, doing string) {
		t.Helper()
		var th *workflows.Throttled
		if !errors.As(err, &th) || th.Reason != "redis" || th.Err == nil ||
			!strings.Contains(err.Error(), `api "crm": `+doing) || !strings.Contains(err.Error(), "connect") {
			t.Fatalf("err = %v, want it held back as Redis does not answer, %s", err, doing)
		}
		if th.After < redisRetry/2 || th.After > 2*redisRetry {
			t.Errorf("held back for %s", th.After)
		}
	}
	t.Run("limits", func(t *testing.T) {
		srv, got := recorder(t, 200, `{}`)
		apis := NewAPIs()
		apis.Connect(deadRedis(t))
		wf := loadWith(t, Options{Client: NewClient(NewGuard(loopback)), APIs: apis}, `
api "crm" {
  base_url = "`+srv.URL+`"
  auth "bearer" { token = "tok-123456" }
}`, `
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }`)
		c := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Workflow: "w", Step: "find", Attempt: 1, Secrets: wf.Secrets}
		_, err := wf.Steps[0].Action.Do(t.Context(), c)
		heldForRedis(t, err, "checking its limits in Redis") // an api without limits reads a 429's Retry-After there
		select {
		case r := <-got:
			t.Errorf("the API got %s %s", r.method, r.path)
		default:
		}
	})
	t.Run("token", func(t *testing.T) {
		s := newAuthServer(t)
		p := newProcess(t, s, "client_credentials", deadRedis(t), &clock{})
		_, _, err := p.call(t.Context())
		heldForRedis(t, err, "OAuth2 token: reading the token kept in Redis")
		if n, calls := s.requests.Load(), s.apiCalls.Load(); n != 0 || calls != 0 {
			t.Errorf("the token endpoint got %d requests, the API %d calls", n, calls)
		}
	})
	t.Run("an answer that lasts", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { rdb.Close() })
		m.Lpush("{hf:api:crm}:slow", "not a time") // WRONGTYPE for the GET of admitScript
		s := newAuthServer(t)
		s.limits = `rate_limit = "10/s"`
		p := newProcess(t, s, "client_credentials", rdb, &clock{})
		_, _, err := p.call(t.Context())
		var th *workflows.Throttled
		if err == nil || errors.As(err, &th) || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("err = %v, want the attempt failed by Redis's answer", err)
		}
	})
}

func TestRedisDown(t *testing.T) {
	for _, tt := range []struct {
		err  error
		down bool
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("reading: %w", io.EOF), true},
		{redis.ErrClosed, false},
		{errors.New("the token lock expired before the token came"), false},
		{redis.ErrPoolTimeout, true},
		{redisReply("CLUSTERDOWN The cluster is down"), true},
		{redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisReply("MOVED 5400 127.0.0.1:7001"), true},
		{redisReply("LOADING Redis is loading the dataset in memory"), true},
		{redisReply("READONLY You can't write against a read only replica."), true},
		{redisReply("NOPERM this user has no permissions to run the 'evalsha' command"), false},
		{redisReply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
	} {
		if got := redisDown(tt.err); got != tt.down {
			t.Errorf("redisDown(%v) = %v, want %v", tt.err, got, tt.down)
		}
	}
}

// redisReply is an error reply of Redis, as go-redis gives one.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}
