package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// sharedAPIs returns the state of two processes sharing the backend's Redis.
func sharedAPIs(t *testing.T, b *redistest.Backend) (*APIs, *APIs) {
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	other := redis.NewClient(opts)
	t.Cleanup(func() { other.Close() })
	a, c := NewAPIs(), NewAPIs()
	a.Connect(b.Client)
	c.Connect(other)
	return a, c
}

func throttled(t *testing.T, err error, reason string) *workflows.Throttled {
	t.Helper()
	var th *workflows.Throttled
	if !errors.As(err, &th) || th.Reason != reason {
		t.Fatalf("err = %v, want held back by %s", err, reason)
	}
	if retry, _ := workflows.Retryable(err); !retry {
		t.Errorf("a held-back call is not to be tried again")
	}
	return th
}

func TestRateLimitHoldsAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", RateLimit: 5, Per: time.Minute, Burst: 5}
		la, lc := newLimiter(a, api), newLimiter(c, api)
		for i := range 5 {
			if _, err := []*limiter{la, lc}[i%2].admit(t.Context()); err != nil {
				t.Fatalf("call %d of the burst: %v", i+1, err)
			}
		}
		_, err := lc.admit(t.Context())
		th := throttled(t, err, "rate_limit")
		if th.After < 10*time.Second || th.After > 12*time.Second {
			t.Errorf("wait %s, want about one call's share of a minute, 12s", th.After)
		}
		if got := testutil.ToFloat64(c.metrics.waits.WithLabelValues("crm", "rate_limit")); got != 1 {
			t.Errorf("waits metric = %v, want 1", got)
		}
		if got := testutil.ToFloat64(a.metrics.calls.WithLabelValues("crm")) + testutil.ToFloat64(c.metrics.calls.WithLabelValues("crm")); got != 5 {
			t.Errorf("calls metric = %v, want 5", got)
		}
	})
}

func TestConcurrencyHoldsAcrossProcesses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		a, c := sharedAPIs(t, b)
		api := &workflows.API{Name: "crm", Concurrency: 2}
		la, lc := newLimiter(a, api), newLimiter(c, api)
		r1, err := la.admit(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.admit(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err = lc.admit(t.Context())
		throttled(t, err, "concurrency")
		r1() // one call is over: its slot is free
		if _, err := lc.admit(t.Context()); err != nil {
			t.Fatalf("after a call ended: %v", err)
		}
	})
}

func TestRetryAfterSlowsEveryCallOfTheAPI(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		t.Cleanup(srv.Close)
		a, c := sharedAPIs(t, b)
		load := func(apis *APIs) *workflows.Step {
			k := workflows.NewKinds()
			Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
			src := `api "crm" {
  base_url = "` + srv.URL + `"
}
workflow "w" {
  step "http" "a" {
    api = "crm"
    url = "/a"
  }
}`
			set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			return set.Workflow("w").Steps[0]
		}
		first, second := load(a), load(c)
		_, err := first.Action.Do(t.Context(), &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "a", Attempt: 1})
		if err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("err = %v, want the 429", err)
		}
		// Another process's call of the same api is held back, before sending anything.
		c2 := &workflows.Call{Env: &workflows.Env{}, RunID: "r2", Step: "a", Attempt: 1}
		_, err = second.Action.Do(t.Context(), c2)
		th := throttled(t, err, "retry_after")
		if th.After < 20*time.Second || th.After > 30*time.Second {
			t.Errorf("wait %s, want what is left of 30s", th.After)
		}
		if c2.Sent != nil {
			t.Errorf("a held-back call recorded a request: %+v", c2.Sent)
		}
		if got := testutil.ToFloat64(a.metrics.tooMany.WithLabelValues("crm")); got != 1 {
			t.Errorf("429 metric = %v, want 1", got)
		}
	})
}

// A call whose api has no limits and no Redis is sent without asking anything.
func TestNoRedisNoLimits(t *testing.T) {
	api := &workflows.API{Name: "crm", RateLimit: 1, Per: time.Hour, Burst: 1}
	l := newLimiter(NewAPIs(), api)
	for i := range 3 {
		if _, err := l.admit(context.Background()); err != nil {
			t.Fatal(fmt.Sprint(i), err)
		}
	}
}
