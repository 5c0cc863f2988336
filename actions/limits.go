package actions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
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
//
// A call the rate_limit holds back books a turn: the first time after every turn
// booked before it at which the bucket lets a call go, one call's interval after the
// last (virtual scheduling). It is queued again for that time, and then goes, the
// bucket allowing it, without waiting again: a backlog is served one call per turn,
// each step woken once, rather than every step waking at the next free slot for one
// of them to take it and the rest to wait again. A turn is named by the step's run,
// name, item and attempt (turnKey), so that the step finds it when it comes back. A
// turn whose step never comes back (its process died, its run was cancelled) passes
// unused; a step that comes back after its turn passed goes if the bucket still lets a
// call go, else keeps its place: it goes when the bucket next lets a call go (a call
// admitted late, by a busy process, moves every later call as late), ahead of the
// turns booked after its own.

// admitScript admits one call of an api, or says how long to wait.
//
// KEYS: 1 rate (GCRA's theoretical arrival time, ms with 3 decimals), 2 slow (until
// when a Retry-After asked to wait, ms), 3 inflight zset (call id -> end of its lease,
// ms), 4 turns zset (turn key -> when its call may go, µs).
// ARGV: 1 µs between calls (0: no rate limit), 2 burst, 3 calls in flight allowed (0:
// no bound), 4 call id, 5 lease ms, 6 turn key, 7 ms a turn is kept after it passed.
// Returns {0, ”} when admitted, else {ms to wait, reason}.
var admitScript = redis.NewScript(`
local rate, slow, inflight, turns = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local interval, burst, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local id, lease, turn, keep = ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- wait_until is the ms from now (ms, rounded down) to us (rounded up): a job due that
-- much later by the queue's clock, Redis's, finds Redis's clock at or past us.
local function wait_until(us)
  return math.ceil(us / 1000) - now
end
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
  local tat = math.max(math.floor(tonumber(redis.call('GET', rate) or '0') * 1000 + 0.5), now_us)
  local allow = tat + interval - burst * interval
  local mine = redis.call('ZSCORE', turns, turn)
  if mine then
    mine = tonumber(mine)
    if mine > now_us then
      return {wait_until(mine), 'rate_limit'}
    end
    redis.call('ZREM', turns, turn)
  end
  -- A call whose turn came goes as the bucket allows. If a call admitted late took
  -- the bucket's slot, it keeps its place and goes once the bucket allows, ahead of
  -- the turns booked after it. Any other call goes after the turns.
  local at = nil
  if mine then
    if allow > now_us then
      -- Steps late together keep their order: each takes the first time the bucket
      -- allows a call that no step kept its place at (they are queued again in the
      -- order of their turns, and come back in it).
      at = allow
      local kept = redis.call('ZRANGEBYSCORE', turns, string.format('%d', at), '+inf', 'WITHSCORES', 'LIMIT', 0, 256)
      for i = 2, #kept, 2 do
        local s = tonumber(kept[i])
        if s > at then
          break
        elseif s == at then
          at = at + interval
        end
      end
    end
  else
    at = allow
    local last = redis.call('ZRANGE', turns, '-1', '-1', 'WITHSCORES')
    if last[2] then
      at = math.max(at, tonumber(last[2]) + interval)
    end
  end
  if at and at > now_us then
    redis.call('ZREMRANGEBYSCORE', turns, '-inf', string.format('%d', now_us - keep * 1000))
    redis.call('ZADD', turns, string.format('%d', at), turn)
    local last = redis.call('ZRANGE', turns, '-1', '-1', 'WITHSCORES')
    redis.call('PEXPIRE', turns, wait_until(tonumber(last[2])) + keep)
    return {wait_until(at), 'rate_limit'}
  end
  local next_us = tat + interval
  redis.call('SET', rate, string.format('%d.%03d', math.floor(next_us / 1000), next_us % 1000),
    'PX', math.ceil((next_us - now_us) / 1000) + 1000)
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
	apis                        *APIs
	api                         string
	rate, slow, inflight, turns string        // keys
	own                         apiLimits     // the limits of the api block the step was loaded with
	slotPoll                    time.Duration // how long a call waits for a slot, at most
	turnKept                    time.Duration // how long a turn is kept after it passed
}

// apiLimits are an api block's limits as the admit script takes them.
type apiLimits struct {
	interval           int64 // µs between calls, rounded up; 0: no rate limit
	burst, concurrency int   // 0: no bound
}

func limitsOf(a *workflows.API) apiLimits {
	l := apiLimits{burst: max(a.Burst, 1), concurrency: a.Concurrency}
	if a.RateLimit > 0 {
		per := a.Per.Microseconds()
		l.interval = (per + int64(a.RateLimit) - 1) / int64(a.RateLimit)
	}
	return l
}

func newLimiter(apis *APIs, a *workflows.API) *limiter {
	prefix := "{hf:api:" + a.Name + "}:"
	return &limiter{apis: apis, api: a.Name, rate: prefix + "rate", slow: prefix + "slow", inflight: prefix + "inflight",
		turns: prefix + "turns", own: limitsOf(a), slotPoll: 200 * time.Millisecond, turnKept: time.Minute}
}

// limits returns the limits a call is admitted by now: those of the workflows in use
// (APIs.Use), or the step's own.
func (l *limiter) limits() apiLimits {
	return l.apis.limitsOf(l.api, l.own)
}

// admit takes a slot for one call, or returns *workflows.Throttled. release frees the
// slot once the call is over. turn names the caller's turn (turnKey): a call held back
// by the rate limit books one, which the same turn finds when it comes back. Without a
// Redis, every call is admitted.
func (l *limiter) admit(ctx context.Context, turn string) (release func(), err error) {
	return l.admitBy(ctx, l.limits(), turn)
}

// admitCall is admit for a step's call, its turn named by its run, step, item and
// attempt when the limits in use have a rate_limit: the limits are read once, so the
// turn and the admission agree across a reload that changes them.
func (l *limiter) admitCall(ctx context.Context, c *workflows.Call) (release func(), err error) {
	lim := l.limits()
	turn := ""
	if lim.interval > 0 {
		turn = turnKey(c)
	}
	return l.admitBy(ctx, lim, turn)
}

// admitBy is admit by the limits lim.
func (l *limiter) admitBy(ctx context.Context, lim apiLimits, turn string) (release func(), err error) {
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
	res, err := admitScript.Run(ctx, rdb, []string{l.rate, l.slow, l.inflight, l.turns},
		lim.interval, lim.burst, lim.concurrency, id, lease.Milliseconds(), turn, l.turnKept.Milliseconds()).Slice()
	if err != nil {
		return nil, redisFailed(ctx, l.api, "checking its limits in Redis", err) // held back when Redis did not answer
	}
	wait, _ := res[0].(int64)
	reason, _ := res[1].(string)
	if reason == "" {
		l.apis.metrics.calls.WithLabelValues(l.api).Inc()
		if lim.concurrency == 0 {
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

// again admits a call sent once more within its attempt, after the API refused its
// OAuth2 token: the rate_limit and a 429's wait count it as any call, and it waits
// within the call for its turn, keeping the request the API refused in the step's
// record. The call holds its slot of the concurrency already, from its admission:
// asking for another would count it twice, and wait on itself.
func (l *limiter) again(ctx context.Context) (func(), error) {
	lim := l.limits()
	lim.concurrency = 0
	return l.waitBy(ctx, lim, "the call sent again", "its step")
}

// waitBy admits a call by the limits lim, waiting within the caller for as long as
// they ask, up to ctx's deadline; what names the call and whose the deadline is in the
// error when the wait would pass it (pastDeadline). The call keeps the turn the rate
// limit booked it while it waits.
func (l *limiter) waitBy(ctx context.Context, lim apiLimits, what, whose string) (func(), error) {
	turn := callID()
	for {
		release, err := l.admitBy(ctx, lim, turn)
		var th *workflows.Throttled
		if !errors.As(err, &th) {
			return release, err
		}
		if th.Err != nil {
			return nil, th.Err // Redis did not answer: the caller's attempt fails, as it would have sent nothing
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < th.After {
			return nil, pastDeadline{fmt.Errorf("api %q: %s would wait %s for its %s, past the deadline of %s",
				l.api, what, workflows.FormatDuration(th.After.Round(time.Millisecond)), th.Reason, whose)}
		}
		t := time.NewTimer(th.After)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// pastDeadline is the error of a call whose wait for its turn would pass its context's
// deadline: it is workflows.ErrPastDeadline, with what names the call.
type pastDeadline struct{ error }

func (pastDeadline) Is(target error) bool { return target == workflows.ErrPastDeadline }

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

// turnKey names the turn of a step's call: its run, step, item, attempt and, for a
// step of on_failure, failure, which stay the same when the step is queued again
// after a wait. A call of no run (a poll's) gets a turn of its own.
func turnKey(c *workflows.Call) string {
	if c == nil || c.RunID == "" {
		return callID()
	}
	item := ""
	if c.Item != nil {
		item = c.Item.KeyText()
	}
	h := sha256.Sum256([]byte(strings.Join([]string{c.RunID, c.Step, item,
		strconv.Itoa(c.Attempt), strconv.Itoa(c.Failure)}, "\x00")))
	return hex.EncodeToString(h[:12])
}

func callID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
