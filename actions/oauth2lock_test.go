package actions

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// a's lock expires while its refresh (refresh-1) waits at the endpoint; c takes the
// lock, spends refresh-1 first, keeps refresh-2 and releases the lock. a's request is
// then refused invalid_grant: its drop, its lock gone, deletes nothing, and c's token,
// the only copy of the live refresh token in Redis, stays.
func TestOAuth2RefusedRefreshAfterItsLockWasTakenKeepsTheOtherProcesssToken(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate, s.expiresIn = true, 60
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "refresh_token", clk)
		for _, p := range []*process{a, c} {
			p.apis.lockTTL = 30 * time.Second // no extend tick within the test
		}
		if _, _, err := a.call(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.advance(55 * time.Second)
		ts := sourceOf(a)
		h := s.tokens.Config.Handler
		gate, arrived := make(chan struct{}), make(chan struct{})
		first := true
		s.tokens.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if first {
				first = false
				close(arrived)
				<-gate // a's request reaches the endpoint after c's
			}
			h.ServeHTTP(w, r)
		})
		aDone := make(chan error, 1)
		go func() { _, _, err := a.call(t.Context()); aDone <- err }()
		<-arrived
		b.Client.Del(t.Context(), ts.lockKey) // a's lock expired (Redis unreachable from a)
		if _, _, err := c.call(t.Context()); err != nil {
			t.Fatalf("c: %v", err)
		}
		testutil.Eventually(t, 5*time.Second, "c releasing the lock", func() bool {
			return b.Client.Exists(t.Context(), ts.lockKey).Val() == 0
		})
		close(gate)
		t.Logf("a: %v", <-aDone)
		t.Logf("sent %q", s.sentRefreshTokens())
		if b.Client.Exists(t.Context(), ts.key).Val() != 1 {
			t.Error("c's token, with the live refresh token, was deleted from Redis by a's drop")
		}
		// A process that did not see c's token (a restart, a new replica) is locked out.
		d := newProcess(t, s, "refresh_token", b.Client, clk)
		if _, _, err := d.call(t.Context()); err != nil {
			t.Errorf("a new process: %v", err)
		}
	})
}

// The store of a fetch whose lock expired, and was taken, used and released by another
// process since, is refused: it would write an older token over the newer one kept.
func TestOAuth2StoreAfterItsLockWasTakenKeepsTheNewerToken(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		s := newAuthServer(t)
		s.rotate, s.expiresIn = true, 60
		clk := &clock{}
		a, c := twoProcesses(t, b, s, "refresh_token", clk)
		owner, ok, err := sourceOf(a).lock(t.Context()) // a's fetch starts, its lock then expires
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		b.Client.Del(t.Context(), sourceOf(a).lockKey)
		for range 3 { // c refreshes meanwhile: Gen 1, 2, 3
			if _, _, err := c.call(t.Context()); err != nil {
				t.Fatal(err)
			}
			clk.advance(55 * time.Second)
		}
		stale := &oauthToken{Access: "stale", Refresh: "refresh-stale", Fetched: clk.now(), Expires: clk.now().Add(time.Hour),
			RefreshAt: clk.now().Add(50 * time.Minute), Gen: 1}
		err = sourceOf(a).store(t.Context(), owner, stale)
		kept, _ := sourceOf(c).load(t.Context())
		if err == nil || kept.Gen < 3 {
			t.Errorf("a's stale store: err %v, Redis now keeps Gen %d refresh %q (was Gen 3)", err, kept.Gen, kept.Refresh)
		}
	})
}
