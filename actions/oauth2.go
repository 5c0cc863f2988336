package actions

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// An OAuth2 token is fetched by one process at a time, for all of them, and kept in
// Redis under {hf:api:NAME}:HASH:token, encrypted with a key derived from the client
// secret: a reader of Redis, or of a backup of it, learns nothing from it. It is
// never in run data, so no API answer, history, log or metric can show it.

const (
	// tokenLockTTL is how long the lock of a token's fetch lives unless the process
	// fetching extends it, as it does while its fetch goes on (holdLock): a process
	// that dies mid-fetch holds back the others' calls this long at most.
	tokenLockTTL = 5 * time.Second
	// tokenFetchMax bounds how long one process may hold the lock, extended, before
	// another may try, and how long the others wait for its token.
	tokenFetchMax = 30 * time.Second
	// tokenPoll is how often a process waiting for another's fetch looks again.
	tokenPoll = 50 * time.Millisecond
	// defaultTokenLifetime is how long a token without expires_in is used.
	defaultTokenLifetime = time.Hour
	// maxTokenLifetime is the longest a token is kept, whatever its expires_in says:
	// seconds past 292 years do not fit a time.Duration.
	maxTokenLifetime = 365 * 24 * time.Hour
)

// oauthToken is a token as kept: in memory, and encrypted in Redis.
type oauthToken struct {
	Access    string    `json:"access"`
	Refresh   string    `json:"refresh,omitempty"` // the refresh token to use next
	Fetched   time.Time `json:"fetched"`           // when the token endpoint's answer came
	Expires   time.Time `json:"expires"`
	RefreshAt time.Time `json:"refresh_at"` // ahead of Expires by a tenth of its lifetime
	// Gen counts the fetches of the state, one more with each: the fetches are one at
	// a time (the lock), so of two tokens the one of the higher Gen came later,
	// whatever the clocks of the processes that fetched them say. 0: kept by a build
	// that counted none.
	Gen int64 `json:"gen,omitempty"`
}

// fresh reports whether the token is to be used as it is, without a refresh.
func (t *oauthToken) fresh(now time.Time) bool {
	return t != nil && t.Access != "" && now.Before(t.RefreshAt)
}

// valid reports whether the token may still be used while another is fetched.
func (t *oauthToken) valid(now time.Time) bool {
	return t != nil && t.Access != "" && now.Before(t.Expires)
}

// refusal is a call the API answered 401: the token it carried, and when the call
// had taken it. The zero refusal is none.
type refusal struct {
	token string
	taken time.Time
}

// fetchedAfter reports whether the token can serve a call sent again after refused: it
// is not the token refused, and came after the call had taken that one. Any token does
// when no call was refused. A token kept before the call took its own, even one fetched
// after an earlier 401, may have been revoked with the one the call carried; the token
// refused is not sent again by the call, nor by any call of this process that takes
// its token after the 401 (tokenSource.standing), whatever the clocks of the processes
// that fetched it and took it say. Calls that took it before, in flight, may still get
// their own 401, and so may other processes' calls until one of them does.
func (t *oauthToken) fetchedAfter(refused refusal) bool {
	return t != nil && (refused.taken.IsZero() || t.Access != refused.token && t.Fetched.After(refused.taken))
}

// tokenSource gives the current token of one api.
type tokenSource struct {
	apis    *APIs
	api     string
	cfg     workflows.OAuth2
	id      string // names the state in Redis: the keys below, and the refusals
	key     string // the encrypted token
	lockKey string
	holdKey string // how long a Retry-After of the endpoint holds every fetch
	aead    cipher.AEAD
	// hide hides the client's credentials in what the token endpoint answers
	// (answerRedactor).
	hide *workflows.Redactor
	// legacyKey is where the token was kept when the refresh token was not part of the
	// state's identity: its rotated refresh token is taken over once. "" for none.
	legacyKey string

	fetching chan struct{} // held by the one goroutine of this process that fetches
	mu       sync.Mutex
	cur      *oauthToken // the last token seen
	// latest is the token of the highest Gen this process has seen with a refresh
	// token: when Redis loses the one it kept, its refresh token is used, not the
	// file's, long rotated away. nil for none.
	latest *oauthToken
	// refused are the refresh tokens the endpoint refused (refusedBefore), heldUntil
	// when its last Retry-After ends, as this process knows them.
	refused   map[string]bool
	heldUntil time.Time
	// standing is the last refusal after which no token came yet (a refresh goes on,
	// or the endpoint failed): until one fetched after it does, every call is answered
	// as the refused one was, waiting for the refresh, so the token refused is not sent
	// again. Zero for none.
	standing refusal
}

func newTokenSource(a *APIs, name, id, legacyID string, cfg *workflows.OAuth2) *tokenSource {
	key := sha256.Sum256([]byte("hookflow oauth2 token\x00" + cfg.TokenURL + "\x00" + cfg.ClientID + "\x00" + cfg.ClientSecret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key is always accepted
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	ts := &tokenSource{apis: a, api: name, cfg: *cfg, id: id, key: id + ":token", lockKey: id + ":lock", holdKey: id + ":hold",
		aead: aead, refused: map[string]bool{},
		hide: answerRedactor(cfg), fetching: make(chan struct{}, 1)}
	if legacyID != "" {
		ts.legacyKey = legacyID + ":token"
	}
	return ts
}

// carryOver takes what old, the source of the same state before a reload changed how
// the token endpoint is asked, knows of it: the latest token it saw, whose refresh
// token is used when the kept one cannot be read, and the refresh tokens the endpoint
// refused.
func (ts *tokenSource) carryOver(old *tokenSource) {
	old.mu.Lock()
	defer old.mu.Unlock()
	ts.latest = old.latest
	for refresh := range old.refused {
		ts.refused[refresh] = true
	}
}

// token returns a token to send. refused, when set, is when a call the API answered
// 401 took the token it sent: the token returned came after that, fetched by this
// process or another, and is fetched anew when none did. The refusal stands for the
// calls after it too, from the 401 until a token fetched after it comes.
func (ts *tokenSource) token(ctx context.Context, client *http.Client, refused refusal) (*oauthToken, error) {
	ts.mu.Lock()
	if refused.taken.IsZero() {
		refused = ts.standing
	} else if refused.taken.After(ts.standing.taken) && !ts.cur.fetchedAfter(refused) {
		ts.standing = refused
	}
	ts.mu.Unlock()
	return ts.tokenAfter(ctx, client, refused)
}

// refusing reports whether a refusal stands: a call of this process got a 401, and
// no token fetched after it came yet. A token a call took before may be the one
// refused, or revoked with it.
func (ts *tokenSource) refusing() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return !ts.standing.taken.IsZero()
}

func (ts *tokenSource) tokenAfter(ctx context.Context, client *http.Client, refused refusal) (*oauthToken, error) {
	now := ts.apis.now
	if t := ts.memory(); t.fresh(now()) && t.fetchedAfter(refused) {
		return t, nil
	}
	deadline := time.Now().Add(tokenFetchMax)
	for {
		t, err := ts.load(ctx)
		if err != nil {
			return nil, redisFailed(ctx, ts.api, "OAuth2 token: reading the token kept in Redis", err)
		}
		if t.fresh(now()) && t.fetchedAfter(refused) {
			ts.remember(t)
			return t, nil
		}
		got, held, err := ts.fetchOnce(ctx, client, refused)
		if th := (*workflows.Throttled)(nil); errors.As(err, &th) && th.Reason == "retry_after" && th.Err == nil &&
			t.valid(now()) && t.fetchedAfter(refused) {
			return t, nil // the endpoint asked to wait: a token that has not expired serves meanwhile
		}
		if err != nil || held {
			return got, err
		}
		// Another process is fetching: a token that has not expired serves meanwhile.
		if t.valid(now()) && t.fetchedAfter(refused) {
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, ts.errorf("another process has been fetching the token for %s", tokenFetchMax)
		}
		select {
		case <-ctx.Done():
			return nil, ts.errorf("waiting for the token another process fetches: %w", ctx.Err())
		case <-time.After(tokenPoll):
		}
	}
}

// fetchOnce fetches a token if no other process is: held reports whether it did.
func (ts *tokenSource) fetchOnce(ctx context.Context, client *http.Client, refused refusal) (*oauthToken, bool, error) {
	// One goroutine of this process at a time; the others wait here, then find its token.
	select {
	case ts.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, true, ts.errorf("waiting for the token: %w", ctx.Err())
	}
	release := func() { <-ts.fetching }
	if t := ts.memory(); t.fresh(ts.apis.now()) && t.fetchedAfter(refused) {
		release()
		return t, true, nil
	}
	if wait, err := ts.held(ctx); err != nil || wait > 0 {
		release()
		if err != nil {
			return nil, true, redisFailed(ctx, ts.api, "OAuth2 token: reading whether the token endpoint asked to wait", err)
		}
		return nil, true, ts.heldBack(wait)
	}
	owner, ok, err := ts.lock(ctx)
	if err != nil {
		release()
		return nil, true, redisFailed(ctx, ts.api, "OAuth2 token: taking the token lock in Redis", err)
	}
	if !ok {
		release()
		return nil, false, nil
	}
	// The fetch goes on when the call stops waiting for it (its step's timeout): the
	// endpoint may rotate the refresh token as it answers, and an answer not read
	// would lose the rotated one, for every process. It has its own deadline, the
	// longest a fetch may hold its lock.
	type result struct {
		t   *oauthToken
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer release()
		var r result
		defer func() {
			// A panic (of a transport) fails the fetch, as it fails a step, rather than
			// end the process: the fetch runs outside the step that waits for it.
			if v := recover(); v != nil {
				r = result{nil, workflows.Permanent(ts.errorf("internal error: %v", v))}
			}
			done <- r
		}()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchMax)
		defer cancel()
		r.t, r.err = ts.fetchLocked(fctx, client, owner, refused)
	}()
	select {
	case r := <-done:
		return r.t, true, r.err
	case <-ctx.Done():
		return nil, true, ts.errorf("waiting for the token: %w (its fetch goes on, and keeps what it gets)", ctx.Err())
	}
}

// fetchLocked fetches a token holding the lock owner took, keeps it in Redis, and
// releases the lock.
func (ts *tokenSource) fetchLocked(ctx context.Context, client *http.Client, owner string, refused refusal) (*oauthToken, error) {
	defer ts.unlock(owner)
	ctx, stop := ts.holdLock(ctx, owner)
	defer stop() // stops extending it before it is released
	// Another process may have stored a token between our read and the lock.
	t, err := ts.load(ctx)
	if err != nil {
		return nil, redisFailed(ctx, ts.api, "OAuth2 token: reading the token kept in Redis", err)
	}
	if t.fresh(ts.apis.now()) && t.fetchedAfter(refused) {
		ts.remember(t)
		return t, nil
	}
	if t == nil && ts.legacyKey != "" {
		if t, err = ts.loadKey(ctx, ts.legacyKey); err != nil {
			return nil, redisFailed(ctx, ts.api, "OAuth2 token: reading the token kept in Redis", err)
		}
	}
	if l := ts.newer(t); l != nil {
		// Redis lost the token it kept (a restart without persistence, a failover that
		// lost the last writes): this process's own, the latest it saw, goes on the
		// rotation, kept again before it is spent so that no process that saw less
		// sends an older one meanwhile.
		if err := ts.keep(ctx, owner, l); err != nil {
			return nil, redisFailed(ctx, ts.api, "OAuth2 token: keeping this process's refresh token in Redis again", err)
		}
		t = l
	}
	nt, err := ts.fetchWith(ctx, client, owner, t)
	if cause := context.Cause(ctx); err != nil && (errors.Is(cause, errLockLost) || errors.Is(cause, errFetchTooLong)) {
		return nil, ts.errorf("%w", cause) // its request was cut short for it
	}
	if err != nil {
		return nil, err
	}
	// This process's calls take it from now on, before it is kept in Redis: none of
	// them takes the token it replaces after its fetch time, to refuse it after a 401.
	ts.remember(nt)
	// Kept whether or not the lock was just found lost: the token came, and storeScript
	// keeps it only while the lock is still ours.
	keep, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ts.store(keep, owner, nt); err != nil {
		return nil, redisFailed(ctx, ts.api, "OAuth2 token: keeping the token in Redis", err)
	}
	return nt, nil
}

// fetchWith fetches a token with the refresh token kept in t, when the endpoint rotated
// the one in the file. A kept refresh token the endpoint refuses as invalid_grant (the
// provider revoked it, or the answer that rotated it was lost) is dropped, and the one
// in the file is tried at once.
func (ts *tokenSource) fetchWith(ctx context.Context, client *http.Client, owner string, t *oauthToken) (*oauthToken, error) {
	nt, err := ts.fetchAfter(ctx, client, owner, t)
	if nt != nil {
		// Above every Gen this process saw too: a kept token of no Gen, from an older
		// build, does not start the count again below what the other processes hold.
		nt.Gen = ts.lastGen()
		if t != nil {
			nt.Gen = max(nt.Gen, t.Gen)
		}
		nt.Gen++
	}
	return nt, err
}

// lastGen is the Gen of the latest token this process saw; 0 for none.
func (ts *tokenSource) lastGen() int64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.latest == nil {
		return 0
	}
	return ts.latest.Gen
}

func (ts *tokenSource) fetchAfter(ctx context.Context, client *http.Client, owner string, t *oauthToken) (*oauthToken, error) {
	if t == nil || t.Refresh == "" || t.Refresh == ts.cfg.RefreshToken {
		return ts.fetch(ctx, client, ts.cfg.RefreshToken)
	}
	nt, err := ts.fetch(ctx, client, t.Refresh) // rotated: the one the endpoint gave last
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" {
		return nt, err
	}
	if err := ts.drop(ctx, owner, t.Refresh); err != nil {
		return nil, ts.errorf("dropping the refresh token the endpoint refused: %w", err)
	}
	return ts.fetch(ctx, client, ts.cfg.RefreshToken)
}

// newer returns this process's latest token when its refresh token is to be used
// rather than kept's: Redis keeps none, or one of a lower Gen (a failover lost the
// writes after it). A kept token of no Gen, from a build that counted none, is taken
// as it is. nil when kept's is to be used.
func (ts *tokenSource) newer(kept *oauthToken) *oauthToken {
	if ts.cfg.Grant != "refresh_token" {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	l := ts.latest
	if l == nil || kept != nil && (kept.Gen == 0 || kept.Gen >= l.Gen) {
		return nil
	}
	return l
}

func (ts *tokenSource) memory() *oauthToken {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.cur
}

func (ts *tokenSource) remember(t *oauthToken) {
	ts.mu.Lock()
	ts.cur = t
	if t != nil && t.Gen == 0 && ts.latest != nil {
		// Kept by an older build, which counts no Gen: it came after every token this
		// process saw (a newer process's would have one), but the one it saw last.
		g := *t
		g.Gen = ts.latest.Gen + 1
		if t.Refresh == ts.latest.Refresh {
			g.Gen = ts.latest.Gen
		}
		t = &g
	}
	if t != nil && t.Refresh != "" && (ts.latest == nil || t.Gen >= ts.latest.Gen) {
		ts.latest = t
	}
	if !ts.standing.taken.IsZero() && t != nil && t.Fetched.After(ts.standing.taken) {
		// A token came after the refusal: the endpoint answered, even if with the same
		// token (some give it back until it expires), which calls may take again.
		ts.standing = refusal{}
	}
	ts.mu.Unlock()
}

// load reads the token kept in Redis; nil when there is none, or none this
// configuration can read.
func (ts *tokenSource) load(ctx context.Context) (*oauthToken, error) {
	return ts.loadKey(ctx, ts.key)
}

// loadKey reads the token kept in Redis under key, sealed for that key.
func (ts *tokenSource) loadKey(ctx context.Context, key string) (*oauthToken, error) {
	rdb := ts.apis.redis()
	if rdb == nil {
		return ts.memory(), nil
	}
	data, err := rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n := ts.aead.NonceSize()
	if len(data) < n {
		return nil, nil
	}
	plain, err := ts.aead.Open(nil, data[:n], data[n:], []byte(key))
	if err != nil {
		return nil, nil // sealed with another secret: fetch anew
	}
	var t oauthToken
	if json.Unmarshal(plain, &t) != nil {
		return nil, nil
	}
	return &t, nil
}

// storeScript keeps a token only while the lock is still ours, and releases it, in
// one step, unless told to hold it: a process whose lock expired mid-fetch cannot
// overwrite the token (and the rotated refresh token) of the one that took the lock
// after. The token kept under the legacy key, when there is one, is replaced too: it
// is taken over once.
//
// KEYS: token, lock[, legacy token]. ARGV: owner, sealed token, its time to live in ms
// (0: none), 1 to hold the lock (else 0). Returns 1 when stored, 0 when the lock was
// not ours any more.
var storeScript = redis.NewScript(`
local token, lock, legacy = KEYS[1], KEYS[2], KEYS[3]
local owner, sealed, ttl, hold = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
if redis.call('GET', lock) ~= owner then
  return 0
end
if ttl > 0 then
  redis.call('SET', token, sealed, 'PX', ttl)
else
  redis.call('SET', token, sealed)
end
if legacy then
  redis.call('DEL', legacy)
end
if not hold then
  redis.call('DEL', lock)
end
return 1
`)

// dropScript forgets the kept token, and the one under the legacy key, while the lock
// is still ours; the lock stays held.
//
// KEYS: token, lock[, legacy token]. ARGV: owner.
// Returns 1 when dropped, 0 when the lock was not ours any more.
var dropScript = redis.NewScript(`
local token, lock, legacy = KEYS[1], KEYS[2], KEYS[3]
local owner = ARGV[1]
if redis.call('GET', lock) ~= owner then
  return 0
end
redis.call('DEL', token)
if legacy then
  redis.call('DEL', legacy)
end
return 1
`)

// extendScript makes the lock live ttl more from now, when it is still ours.
//
// KEYS: lock. ARGV: owner, its time to live in ms.
// Returns 1 when extended, 0 when the lock was not ours any more.
var extendScript = redis.NewScript(`
local lock = KEYS[1]
local owner, ttl = ARGV[1], tonumber(ARGV[2])
if redis.call('GET', lock) ~= owner then
  return 0
end
redis.call('PEXPIRE', lock, ttl)
return 1
`)

// unlockScript releases the lock when it is still ours. KEYS: lock. ARGV: owner.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// store keeps t in Redis and releases the lock.
func (ts *tokenSource) store(ctx context.Context, owner string, t *oauthToken) error {
	return ts.storeHolding(ctx, owner, t, false)
}

// keep keeps t in Redis, the lock still held.
func (ts *tokenSource) keep(ctx context.Context, owner string, t *oauthToken) error {
	return ts.storeHolding(ctx, owner, t, true)
}

func (ts *tokenSource) storeHolding(ctx context.Context, owner string, t *oauthToken, hold bool) error {
	rdb := ts.apis.redis()
	if rdb == nil {
		return nil
	}
	plain, err := json.Marshal(t)
	if err != nil {
		return err
	}
	nonce := make([]byte, ts.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := ts.aead.Seal(nonce, nonce, plain, []byte(ts.key))
	var ttl int64 // a refresh token outlives its access token: kept until replaced
	if t.Refresh == "" {
		ttl = max(time.Until(t.Expires).Milliseconds(), 1)
	}
	held := 0
	if hold {
		held = 1
	}
	stored, err := storeScript.Run(ctx, rdb, ts.keys(), owner, sealed, ttl, held).Int()
	if err == nil && stored == 0 {
		err = errors.New("the token lock expired before the token came")
	}
	return err
}

// drop forgets the kept token, with its refresh token, refused, here and in Redis.
func (ts *tokenSource) drop(ctx context.Context, owner, refused string) error {
	ts.remember(nil)
	ts.mu.Lock()
	if ts.latest != nil && ts.latest.Refresh == refused {
		ts.latest = nil
	}
	ts.mu.Unlock()
	rdb := ts.apis.redis()
	if rdb == nil {
		return nil
	}
	dropped, err := dropScript.Run(ctx, rdb, ts.keys(), owner).Int()
	if err == nil && dropped == 0 {
		err = errors.New("the token lock expired")
	}
	return err
}

// keys are the keys storeScript and dropScript touch.
func (ts *tokenSource) keys() []string {
	if ts.legacyKey == "" {
		return []string{ts.key, ts.lockKey}
	}
	return []string{ts.key, ts.lockKey, ts.legacyKey}
}

func (ts *tokenSource) lock(ctx context.Context) (string, bool, error) {
	rdb := ts.apis.redis()
	if rdb == nil {
		return "", true, nil // this process's own lock, fetching, is the only one
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	owner := hex.EncodeToString(b)
	ok, err := rdb.SetNX(ctx, ts.lockKey, owner, ts.apis.lockTTL).Result()
	return owner, ok, err
}

// errLockLost ends a fetch whose lock is not its own any more: another process may be
// fetching, and a refresh token must not be spent twice.
var errLockLost = errors.New("the token lock was lost while fetching (another process may be fetching)")

// errFetchTooLong ends a fetch that holds its lock past tokenFetchMax.
var errFetchTooLong = fmt.Errorf("the token fetch took longer than %s", tokenFetchMax)

// holdLock keeps the lock owner took from expiring while its fetch goes on: every
// third of its time to live, it is made to live that long again, until stop is called,
// ctx ends, the lock is not ours any more, or tokenFetchMax has passed since it was
// taken. A process that dies mid-fetch extends it no more, and it expires within its
// short time to live rather than hold the others' calls back. The context it returns,
// for the fetch, ends when the lock is found lost or no longer extended.
func (ts *tokenSource) holdLock(ctx context.Context, owner string) (context.Context, func()) {
	rdb := ts.apis.redis()
	if rdb == nil {
		return ctx, func() {}
	}
	held, lose := context.WithCancelCause(ctx)
	ttl, until := ts.apis.lockTTL, time.Now().Add(tokenFetchMax)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			left := min(ttl, time.Until(until))
			if left <= 0 {
				lose(errFetchTooLong)
				return
			}
			ours, err := extendScript.Run(ctx, rdb, []string{ts.lockKey}, owner, max(left.Milliseconds(), 1)).Int()
			if err == nil && ours == 0 {
				lose(errLockLost)
				return
			}
			// A Redis error: the lock lives on until its time to live ends; the next tick
			// tries again, and finds it lost if it expired meanwhile.
		}
	}()
	return held, func() {
		close(done)
		<-stopped
		lose(nil)
	}
}

func (ts *tokenSource) unlock(owner string) {
	if rdb := ts.apis.redis(); rdb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = unlockScript.Run(ctx, rdb, []string{ts.lockKey}, owner).Err() // else it expires
	}
}

// answerRedactor hides what the token endpoint got of the client's credentials, in
// the text of its answer (an error_description may repeat the request): the client
// secret and the refresh token in the file, as they are and as the form and JSON
// encode them, and the Basic credentials fetch sends, whose base64 hides the secret
// from a plain search only. Like the api's other values, one shorter than
// workflows.MinSecret is not hidden. nil when there is nothing to hide.
func answerRedactor(cfg *workflows.OAuth2) *workflows.Redactor {
	var values []string
	if len(cfg.ClientSecret) >= workflows.MinSecret {
		values = append(values, cfg.ClientSecret, basicCredentials(cfg.ClientID, cfg.ClientSecret))
	}
	if len(cfg.RefreshToken) >= workflows.MinSecret {
		values = append(values, cfg.RefreshToken)
	}
	if len(values) == 0 {
		return nil
	}
	return (*workflows.Redactor)(nil).With(values...)
}

// basicCredentials is what fetch sends after "Basic ": the client id and secret, each
// form-encoded (RFC 6749 2.3.1), in base64.
func basicCredentials(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

// maxTokenAnswer is how much of a token endpoint's answer is read: a token's JSON is
// a few KiB at most.
const maxTokenAnswer = 1 << 20

// fetch asks the token endpoint for a token, through the outbound guard.
func (ts *tokenSource) fetch(ctx context.Context, client *http.Client, refresh string) (*oauthToken, error) {
	form := url.Values{"grant_type": {ts.cfg.Grant}}
	if ts.cfg.Grant == "refresh_token" {
		refused, err := ts.refusedBefore(ctx, refresh)
		if err != nil {
			return nil, redisFailed(ctx, ts.api, "OAuth2 token: reading the refresh tokens the endpoint refused", err)
		}
		if refused {
			return nil, ts.refusedAgain(refresh)
		}
		form.Set("refresh_token", refresh)
	}
	if len(ts.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(ts.cfg.Scopes, " "))
	}
	if ts.cfg.Audience != "" {
		form.Set("audience", ts.cfg.Audience)
	}
	if ts.cfg.ClientAuth == "post" {
		form.Set("client_id", ts.cfg.ClientID)
		form.Set("client_secret", ts.cfg.ClientSecret)
	}
	ctx = context.WithValue(ctx, tokenRequestKey{}, true)
	req, err := http.NewRequestWithContext(ctx, "POST", ts.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, workflows.Permanent(ts.errorf("%w", unwrapURLError(err)))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookflow")
	if ts.cfg.ClientAuth != "post" {
		req.Header.Set("Authorization", "Basic "+basicCredentials(ts.cfg.ClientID, ts.cfg.ClientSecret))
	}
	start := ts.apis.now()
	resp, err := client.Do(req)
	if err != nil {
		err = &TokenError{API: ts.api, URL: ts.shownURL(), Err: unwrapURLError(err)}
		if errors.As(err, new(*BlockedError)) {
			err = workflows.Permanent(err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer+1))
	if err != nil {
		return nil, &TokenError{API: ts.api, URL: ts.shownURL(), Err: err}
	}
	over := len(data) > maxTokenAnswer
	data = data[:min(len(data), maxTokenAnswer)]
	var body struct {
		AccessToken  string      `json:"access_token"`
		ExpiresIn    json.Number `json:"expires_in"`
		RefreshToken string      `json:"refresh_token"`
		Error        string      `json:"error"`
		Description  string      `json:"error_description"`
	}
	jsonErr := json.Unmarshal(data, &body)
	// Its text may repeat what it got: the client's credentials, and the refresh token
	// sent, which the endpoint may have rotated since the file's.
	hide := ts.hide
	if refresh != ts.cfg.RefreshToken && len(refresh) >= workflows.MinSecret {
		hide = hide.With(refresh)
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{API: ts.api, URL: ts.shownURL(), Status: resp.StatusCode,
			Code: hide.String(body.Error), Description: hide.String(body.Description),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
		if te.Code == "invalid_client" {
			te.Hint = clientAuthHint(ts.cfg.ClientAuth)
		}
		if te.Code == "invalid_grant" {
			te.Hint = ts.lockedOut(refresh)
		}
		ts.refusedOrHeld(ctx, refresh, te)
		return nil, te
	}
	if jsonErr != nil || body.AccessToken == "" {
		te := &TokenError{API: ts.api, URL: ts.shownURL(), Status: resp.StatusCode}
		switch {
		case jsonErr == nil && body.Error != "": // an OAuth2 error, though with a 200
			te.Code, te.Description = hide.String(body.Error), hide.String(body.Description)
		case over: // cut here, not by the endpoint
			te.Err = fmt.Errorf("the token endpoint's answer is over %d MiB, more than hookflow reads of it", maxTokenAnswer>>20)
		default:
			te.Err = unusableAnswer(resp.Header.Get("Content-Type"), data, jsonErr)
		}
		return nil, te
	}
	lifetime := defaultTokenLifetime
	if secs, err := body.ExpiresIn.Float64(); err == nil && secs > 0 {
		lifetime = maxTokenLifetime
		if secs < maxTokenLifetime.Seconds() {
			lifetime = time.Duration(secs * float64(time.Second))
		}
	}
	t := &oauthToken{Access: body.AccessToken, Fetched: ts.apis.now(), Expires: start.Add(lifetime), RefreshAt: start.Add(lifetime - lifetime/10)}
	if ts.cfg.Grant == "refresh_token" {
		t.Refresh = refresh
		if body.RefreshToken != "" {
			t.Refresh = body.RefreshToken
		}
	}
	return t, nil
}

// clientAuthHint is what an invalid_client answer says besides: an endpoint that
// takes the client's credentials one way only refuses them sent the other way with
// invalid_client, as it refuses a wrong secret.
func clientAuthHint(sent string) string {
	if sent == "post" {
		return `the client's credentials were sent in the form (client_auth = "post"); if they are right, the endpoint may ` +
			`take them as HTTP basic auth only (client_secret_basic): leave client_auth out, or set client_auth = "basic"`
	}
	return `the client's credentials were sent as HTTP basic auth; if they are right, the endpoint may take them in ` +
		`the form only (client_secret_post): set client_auth = "post" in the api's auth "oauth2" block`
}

// unusableAnswer says what is wrong with a token endpoint's 200 answer, data, that
// gives no access token: it is not JSON (with its content type), its JSON does not
// parse, or it holds none. It quotes nothing of the answer, which may hold a token.
func unusableAnswer(contentType string, data []byte, jsonErr error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case jsonErr == nil:
		return errors.New("the answer holds no access_token")
	case len(data) == 0:
		return errors.New("the answer is empty")
	case contentType == "":
		return errors.New("the answer is not JSON, and has no Content-Type")
	case !isJSON(contentType):
		media, err := workflows.MediaType(contentType)
		if err != nil {
			media = "one that does not parse"
		}
		return fmt.Errorf("the answer is not JSON: its Content-Type is %s", media)
	case errors.As(jsonErr, &typ) && typ.Field != "":
		want := "string"
		if typ.Field == "expires_in" {
			want = "number"
		}
		return fmt.Errorf("the answer's %s is a JSON %s, not a %s", typ.Field, typ.Value, want)
	case errors.As(jsonErr, &typ):
		return fmt.Errorf("the answer is a JSON %s, not an object", typ.Value)
	case json.Valid(data) && strings.Contains(jsonErr.Error(), "invalid number literal"):
		// The only number read is expires_in: a string that is no number ("abc").
		return errors.New("the answer's expires_in is not a number")
	case errors.Is(json.NewDecoder(bytes.NewReader(data)).Decode(new(any)), io.ErrUnexpectedEOF):
		return errors.New("the answer's JSON does not parse: it ends early (cut short?)")
	case errors.As(jsonErr, &syntax):
		return fmt.Errorf("the answer's JSON does not parse: at byte %d", syntax.Offset)
	}
	return errors.New("the answer's JSON does not parse")
}

// shownURL is the token URL as errors show it: scheme, host and path.
func (ts *tokenSource) shownURL() string {
	u, err := url.Parse(ts.cfg.TokenURL)
	if err != nil {
		return "the token_url"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func (ts *tokenSource) errorf(format string, args ...any) error {
	return fmt.Errorf("api %q: OAuth2 token: "+format, append([]any{ts.api}, args...)...)
}

// TokenError is a failure to get an OAuth2 token from an api's token endpoint. It
// fails the step's attempt; a network error, a 5xx or a 429 may pass on another.
type TokenError struct {
	API         string
	URL         string
	Status      int    // 0: no answer
	Code        string // the answer's error, such as invalid_client
	Description string // its error_description, the client's credentials [redacted]
	RetryAfter  time.Duration
	// Hint is what to try: after an invalid_client, the other client_auth; after an
	// invalid_grant of the refresh token in the file, a new consent (lockedOut).
	Hint string
	Err  error
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("api %q: getting an OAuth2 token from %s: ", e.API, e.URL)
	if e.Err != nil {
		msg += e.Err.Error()
		if e.Hint != "" {
			msg += "; " + e.Hint
		}
		return msg
	}
	msg += fmt.Sprintf("status %d %s", e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusOK {
		msg += ", without an access_token" // the answer's error says why
	}
	if e.Code != "" {
		msg += ": " + e.Code
		if e.Description != "" {
			msg += " (" + e.Description + ")"
		}
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *TokenError) Unwrap() error { return e.Err }

// RetryHint: another attempt may pass after a network error, a 5xx or a 429; not
// after a refusal of the client's credentials.
func (e *TokenError) RetryHint() (bool, time.Duration) {
	if e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout {
		return true, e.RetryAfter
	}
	return false, 0
}

type tokenRequestKey struct{}

// IsTokenRequest reports whether a request asks an api's token endpoint for an OAuth2
// token, for a client's transport that answers requests itself (a dry run).
func IsTokenRequest(req *http.Request) bool {
	is, _ := req.Context().Value(tokenRequestKey{}).(bool)
	return is
}
