package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// What the token endpoint refused, or asked to wait for, holds for every process
// sharing the Redis, as an API's 429 does: a refresh token it refused as invalid_grant
// is not sent again, by any process ({hf:api:NAME}:HASH:refused:SHA, a hash of the
// refresh token, never itself), and a 429's or 503's Retry-After holds every fetch of
// the token until it has passed ({hf:api:NAME}:HASH:hold). Without them, every attempt
// of every step sends a token request of its own while the endpoint refuses them.

const (
	// refusedKept is how long a refusal of a refresh token is remembered: a refresh
	// token refused is never taken again, and one kept that long is long rotated away.
	refusedKept = 30 * 24 * time.Hour
	// maxTokenHold bounds the wait a token endpoint's Retry-After holds every fetch for,
	// as a step's retry max bounds an API's: a day's quota does not hold the api a day.
	maxTokenHold = workflows.DefaultRetryMax
)

// refusedKey is where a refusal of the refresh token refresh is remembered.
func (ts *tokenSource) refusedKey(refresh string) string {
	h := sha256.Sum256([]byte("hookflow oauth2 refused refresh token\x00" + refresh))
	return ts.id + ":refused:" + hex.EncodeToString(h[:16])
}

// refusedBefore reports whether the endpoint refused the refresh token refresh
// before, as invalid_grant, to this process or another.
func (ts *tokenSource) refusedBefore(ctx context.Context, refresh string) (bool, error) {
	ts.mu.Lock()
	known := ts.refused[refresh]
	ts.mu.Unlock()
	rdb := ts.apis.redis()
	if known || rdb == nil {
		return known, nil
	}
	n, err := rdb.Exists(ctx, ts.refusedKey(refresh)).Result()
	if err != nil {
		return false, err
	}
	if n > 0 {
		ts.mu.Lock()
		ts.refused[refresh] = true
		ts.mu.Unlock()
	}
	return n > 0, nil
}

// markRefused remembers that the endpoint refused the refresh token refresh, for
// every process.
func (ts *tokenSource) markRefused(ctx context.Context, refresh string) {
	ts.mu.Lock()
	ts.refused[refresh] = true
	ts.mu.Unlock()
	if rdb := ts.apis.redis(); rdb != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = rdb.Set(ctx, ts.refusedKey(refresh), "1", refusedKept).Err() // else each process finds out once
	}
}

// hold makes every process's fetches of the token wait as the endpoint's 429 or 503
// asked, up to maxTokenHold.
func (ts *tokenSource) hold(ctx context.Context, after time.Duration) {
	after = min(after, maxTokenHold)
	if after <= 0 {
		return
	}
	ts.mu.Lock()
	if until := time.Now().Add(after); until.After(ts.heldUntil) {
		ts.heldUntil = until
	}
	ts.mu.Unlock()
	if rdb := ts.apis.redis(); rdb != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = slowScript.Run(ctx, rdb, []string{ts.holdKey}, after.Milliseconds()).Err() // this process waits still
	}
}

// held returns how long fetches of the token are still held; 0 for not.
func (ts *tokenSource) held(ctx context.Context) (time.Duration, error) {
	ts.mu.Lock()
	wait := time.Until(ts.heldUntil)
	ts.mu.Unlock()
	if wait > 0 {
		return wait, nil
	}
	rdb := ts.apis.redis()
	if rdb == nil {
		return 0, nil
	}
	ttl, err := rdb.PTTL(ctx, ts.holdKey).Result()
	if err != nil {
		return 0, err
	}
	return max(ttl, 0), nil // -1 and -2 (no key) read as none
}

// heldBack is the error of a fetch not asked for while the endpoint's Retry-After
// holds them: the step is held back, as a 429 of the API holds it, counting no
// attempt.
func (ts *tokenSource) heldBack(wait time.Duration) error {
	return &workflows.Throttled{API: ts.api, Reason: "retry_after", After: wait}
}

// refusedAgain is the error of a fetch not asked for, its refresh token refused
// before.
func (ts *tokenSource) refusedAgain(refresh string) error {
	return workflows.Permanent(&TokenError{API: ts.api, URL: ts.shownURL(), Code: "invalid_grant",
		Err:  errors.New("not asked again: the endpoint refused this refresh token before (invalid_grant)"),
		Hint: ts.lockedOut(refresh)})
}

// lockedOut is what to do once the endpoint refused refresh, when it is the refresh
// token in the file: no other is left to try. "" for another.
func (ts *tokenSource) lockedOut(refresh string) string {
	if ts.cfg.Grant != "refresh_token" || refresh != ts.cfg.RefreshToken {
		return ""
	}
	return "the refresh_token in the file was refused (revoked, or rotated away and the token after it lost): " +
		"consent again to get a new one, put it where the file reads it from (its environment variable), " +
		"and restart every hookflow process sharing the Redis: a reload does not read new environment values"
}

// refusedOrHeld records what the endpoint's answer te to a request sending refresh
// says for every process: a refresh token refused, or a wait asked for.
func (ts *tokenSource) refusedOrHeld(ctx context.Context, refresh string, te *TokenError) {
	switch {
	case te.Code == "invalid_grant" && refresh != "" && ts.cfg.Grant == "refresh_token":
		ts.markRefused(ctx, refresh)
	case (te.Status == http.StatusTooManyRequests || te.Status == http.StatusServiceUnavailable) && te.RetryAfter > 0:
		ts.hold(ctx, te.RetryAfter)
	}
}
