package engine

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// TestLeaseTooShortIsTheShortest: a lease given by code that Redis would read as 0 ms,
// or whose heartbeat would have no interval, is minLease: the pool starts (a heartbeat
// of 0 would panic) and a run finishes.
func TestLeaseTooShortIsTheShortest(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		for _, lease := range []time.Duration{time.Nanosecond, 2 * time.Nanosecond, 500 * time.Microsecond} {
			t.Run(lease.String(), func(t *testing.T) {
				e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Lease: lease})
				if e.q.leaseFor != minLease || e.q.leaseArg != minLease.Milliseconds() {
					t.Errorf("lease %v (%d ms to Redis), want %v", e.q.leaseFor, e.q.leaseArg, minLease)
				}
				set := loadSet(t, &recorder{}, chainSrc)
				e.Use(set)
				startPool(t, e, 2)
				id, err := e.Start(context.Background(), set.Workflow("chain"), event(`{"name": "Ada"}`))
				if err != nil {
					t.Fatal(err)
				}
				if r := waitRun(t, e, id); r.Status != "succeeded" {
					t.Errorf("run %s", r.Status)
				}
			})
		}
	})
	if e := New(nil, Options{Lease: -5 * time.Second}); e.q.leaseFor != 30*time.Second {
		t.Errorf("a negative lease is %v, want the default 30s", e.q.leaseFor)
	}
}
