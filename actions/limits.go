package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// An api's limits hold across every process sharing the Redis: its rate_limit (GCRA,
// a token bucket kept as one timestamp), its concurrency (the calls in flight, each
// with a lease, so that a process that dies frees its slots), and the wait a 429's
// Retry-After asked of every call. Admitting a call is one script call; a call that
// may not start yet is workflows.Throttled, which the engine queues again for when it
// may, holding no worker.

// admitScript admits one call of an api, or says how long to wait.
//
// KEYS: 1 rate (GCRA's theoretical arrival time, ms), 2 slow (until when a Retry-After
// asked to wait, ms), 3 inflight zset (call id -> end of its lease, ms).
// ARGV: 1 ms between calls (0: no rate limit), 2 burst, 3 calls in flight allowed (0:
// no bound), 4 call id, 5 lease ms.
// Returns {0, ”} when admitted, else {ms to wait, reason}.
var admitScript = redis.NewScript(`
local rate, slow, inflight = KEYS[1], KEYS[2], KEYS[3]
local interval, burst, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local id, lease = ARGV[4], tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = tonumber(redis.call('GET', slow) or '0')
if until_ms > now then
  return {math.ceil(until_ms - now), 'retry_after'}
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
  if redis.call('ZCARD', inflight) >= limit then
    return {0, 'concurrency'}
  end
end
if interval > 0 then
  local tat = math.max(tonumber(redis.call('GET', rate) or '0'), now)
  local allow = tat + interval - burst * interval
  if allow > now then
    return {math.ceil(allow - now), 'rate_limit'}
  end
  redis.call('SET', rate, string.format('%.3f', tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
end
if limit > 0 then
  redis.call('ZADD', inflight, now + lease, id)
  redis.call('PEXPIRE', inflight, lease + 1000)
end
return {0, ''}
`)

// slowScript makes every call of an api wait until a time a Retry-After asked for,
// unless a later one is set already. KEYS: 1 slow. ARGV: 1 ms to wait. Returns 0.
var slowScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < now + wait then
  redis.call('SET', KEYS[1], string.format('%.0f', now + wait), 'PX', wait)
end
return 0
`)

// limiter applies one api's limits.
type limiter struct {
	apis                 *APIs
	api                  string
	rate, slow, inflight string        // keys
	interval             float64       // ms between calls; 0: no rate limit
	burst, concurrency   int           // 0: no bound
	slotPoll             time.Duration // how long a call waits for a slot, at most
}

func newLimiter(apis *APIs, a *workflows.API) *limiter {
	prefix := "{hf:api:" + a.Name + "}:"
	l := &limiter{apis: apis, api: a.Name, rate: prefix + "rate", slow: prefix + "slow", inflight: prefix + "inflight",
		burst: max(a.Burst, 1), concurrency: a.Concurrency, slotPoll: 200 * time.Millisecond}
	if a.RateLimit > 0 {
		l.interval = float64(a.Per.Milliseconds()) / float64(a.RateLimit)
	}
	return l
}

// admit takes a slot for one call, or returns *workflows.Throttled. release frees the
// slot once the call is over. Without a Redis, every call is admitted.
func (l *limiter) admit(ctx context.Context) (release func(), err error) {
	rdb := l.apis.redis()
	if rdb == nil {
		l.apis.metrics.calls.WithLabelValues(l.api).Inc()
		return func() {}, nil
	}
	id := callID()
	lease := time.Minute
	if d, ok := ctx.Deadline(); ok {
		lease = time.Until(d) + 5*time.Second
	}
	res, err := admitScript.Run(ctx, rdb, []string{l.rate, l.slow, l.inflight},
		strconv.FormatFloat(l.interval, 'f', 3, 64), l.burst, l.concurrency, id, lease.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("api %q: checking its limits in Redis: %w", l.api, err)
	}
	wait, _ := res[0].(int64)
	reason, _ := res[1].(string)
	if reason == "" {
		l.apis.metrics.calls.WithLabelValues(l.api).Inc()
		if l.concurrency == 0 {
			return func() {}, nil
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = rdb.ZRem(ctx, l.inflight, id).Err() // else its lease ends
		}, nil
	}
	after := time.Duration(wait) * time.Millisecond
	if reason == "concurrency" {
		// When a slot frees is not known: look again soon, not all at once.
		after = l.slotPoll/2 + time.Duration(mrand.Int64N(int64(l.slotPoll/2)))
	}
	l.apis.metrics.waits.WithLabelValues(l.api, reason).Inc()
	return nil, &workflows.Throttled{API: l.api, Reason: reason, After: after}
}

// slowDown makes every call of the api wait as a 429's Retry-After asked.
func (l *limiter) slowDown(after time.Duration) {
	l.apis.metrics.tooMany.WithLabelValues(l.api).Inc()
	rdb := l.apis.redis()
	if rdb == nil || after <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = slowScript.Run(ctx, rdb, []string{l.slow}, after.Milliseconds()).Err() // the step's own retry still waits
}

func callID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
