package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRefused is returned for a start that Redis refused in a way that proves it wrote
// nothing: the start is not stored, and its sender may send it again as new.
var ErrRefused = errors.New("Redis refused the start")

// RefusedError is a start Redis refused, as ErrRefused says, and why.
type RefusedError struct {
	// Reason says why in words: "it is out of memory (maxmemory)".
	Reason string
	err    error // Redis's error reply
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s (%v)", ErrRefused, e.Reason, e.err)
}

func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.err} }

// Refusal tells a caller that does not import the engine (the webhook receiver) why
// Redis refused the start, which is therefore not stored.
func (e *RefusedError) Refusal() string { return e.Reason }

// redisRefusal reads err, the error of a script call: why Redis refused the call, and
// whether that proves the call wrote nothing. "" for an error that is not a refusal
// (no answer, a script's own error).
//
// What proves it:
//   - an error reply for the EVALSHA as a whole, before its script ran: NOPERM for the
//     command or its keys (the Redis user's ACL);
//   - the refusals Redis gives a script only before its first write (script.c's
//     scriptVerifyOOM and scriptVerifyWriteCommandAllow in Redis 7, which skip them once
//     SCRIPT_WRITE_DIRTY is set; Redis 6 checks lua_write_dirty alike, and answers them
//     as ERR Error running script, which counts as no answer): OOM (used memory over
//     maxmemory, and nothing to evict), READONLY (a replica), MISCONF (a failed RDB
//     or AOF write, with stop-writes-on-bgsave-error), NOREPLICAS (fewer good replicas
//     than min-replicas-to-write). A script that declares flags is refused them as a
//     whole, before it runs: hookflow's declare none.
//
// A NOPERM raised inside a script (with Redis 7's " script: …" suffix, or a call's
// error in a batch, many.go) may come after writes: it proves nothing. (Redis 7.0
// answers a command or key the script may not use with ERR The user executing the
// script…, which is no refusal here either.)
//
// For a start, the second kind also proves that no earlier try of it stored it
// (go-redis sends a command again after a network error, and the first try may have
// run): start.lua returns at once, writing nothing, when its run exists, so a try that
// met a refusal at its first write found no run stored.
func redisRefusal(err error) (why string, wroteNothing bool) {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return "", false
	}
	msg := reply.Error()
	code, _, _ := strings.Cut(msg, " ")
	inside := errors.As(err, new(replyError)) || strings.Contains(msg, " script: ")
	switch code {
	case "OOM":
		return "it is out of memory (its used memory is over maxmemory, and it evicts nothing)", true
	case "READONLY":
		return "it is a read-only replica, not the primary", true
	case "MISCONF":
		return "it cannot write its RDB snapshot or AOF to disk, and refuses writes until it can", true
	case "NOREPLICAS":
		return "it has fewer good replicas than its min-replicas-to-write", true
	case "NOPERM":
		return aclRefusal(msg), !inside
	}
	if strings.Contains(msg, "The user executing the script can't") || strings.Contains(msg, "ACL failure in script") {
		return "the Redis user may not run a command, or use a key, that hookflow's script needs (ACL)", false
	}
	return "", false
}

// Refusal says why Redis refused a command, err its error, when Redis did (out of
// memory, a read-only replica, a failed disk write, an ACL), whether or not that
// proves the command wrote nothing; "" for any other error.
func Refusal(err error) string {
	why, _ := redisRefusal(err)
	return why
}

// refusedCall is err, the error of a call to Redis, with a Refusal method saying why
// when Redis refused it (Refusal), for a caller that does not import the engine (the
// resume URLs' receiver): it may have written, unlike a start's RefusedError.
func refusedCall(err error) error {
	if why := Refusal(err); why != "" {
		return &callRefusedError{why: why, err: err}
	}
	return err
}

type callRefusedError struct {
	why string
	err error
}

func (e *callRefusedError) Error() string {
	return "Redis refused it: " + e.why + " (" + e.err.Error() + ")"
}
func (e *callRefusedError) Unwrap() error   { return e.err }
func (e *callRefusedError) Refusal() string { return e.why }

// aclRefusal says what an ACL's NOPERM refused.
func aclRefusal(msg string) string {
	if _, cmd, ok := strings.Cut(msg, "permissions to run the '"); ok {
		cmd, _, _ = strings.Cut(cmd, "'")
		return "the Redis user may not run " + strings.ToUpper(cmd) + " (ACL)"
	}
	if strings.Contains(msg, "keys") {
		return "the Redis user may not use hookflow's keys (ACL): it needs " + aclKeys
	}
	return "the Redis user lacks a permission hookflow needs (ACL)"
}

// aclKeys are the key patterns of a Redis ACL that hookflow's keys match: hf:shards,
// hf:resume-key, hf:src:…, and each shard's {hf:N}:….
const aclKeys = "~hf:* ~{hf:*"

// ErrStartsRefused is why Ready fails while Redis refuses the starts of runs (its
// memory is full, its ACL denies hookflow's scripts): every webhook is answered 503.
var ErrStartsRefused = errors.New("Redis refuses starts")

// refusals keeps the last start Redis refused, until a start succeeds, or a probe finds
// that Redis takes writes again. While one is kept, Ready probes (one EVALSHA a shard,
// at most once per healthTTL): one stray refusal does not take the process out of a
// load balancer, and a process taken out, which gets no starts, is ready again once
// Redis takes writes. The starts pay one atomic load.
type refusals struct {
	last  atomic.Pointer[refusal]
	check *clusterHealth // of probe
	rdb   redis.UniversalClient
	keys  []string // one key in each shard: the open count start.lua increments first
}

func newRefusals(rdb redis.UniversalClient, shards []*shard) *refusals {
	r := &refusals{rdb: rdb}
	for _, sh := range shards {
		r.keys = append(r.keys, sh.open())
	}
	r.check = &clusterHealth{probe: r.probe, now: time.Now, ttl: healthTTL, name: "Redis"}
	return r
}

// saw records what a start's error says: a refusal is kept; a start that succeeded
// clears the one kept.
func (r *refusals) saw(err error) {
	if err == nil {
		if r.last.Load() != nil {
			r.last.Store(nil)
		}
		return
	}
	// Declared here, not above: errors.As takes its address, which puts it on the
	// heap, and a start that succeeded should not pay for that.
	var refused *RefusedError
	if errors.As(err, &refused) {
		r.last.Store(&refusal{err: refused, at: time.Now()})
	}
}

// refusal is a start Redis refused, and when.
type refusal struct {
	err *RefusedError
	at  time.Time
}

// ready is nil while no refusal is kept, else the outcome of a probe at most
// healthTTL old: ErrStartsRefused with why, while Redis refuses the probe's write.
func (r *refusals) ready(ctx context.Context) error {
	if r == nil || r.last.Load() == nil {
		return nil
	}
	_, err := r.check.check(ctx)
	return err
}

// writeProbe makes the first write of a start, on its key, and undoes it: Redis
// refuses it as it would the start (OOM, READONLY, MISCONF, an ACL that denies EVALSHA,
// the key, INCR or DECR).
var writeProbe = redis.NewScript(`redis.call('INCR', KEYS[1])
redis.call('DECR', KEYS[1])
return 1`)

// probe makes writeProbe's write on each shard; it clears the refusal kept when Redis
// takes them all.
func (r *refusals) probe(ctx context.Context) (int, error) {
	kept := r.last.Load()
	for _, key := range r.keys {
		err := writeProbe.Run(ctx, r.rdb, []string{key}).Err()
		if err == nil {
			continue
		}
		if why, _ := redisRefusal(err); why != "" {
			return 0, fmt.Errorf("%w: %s (%v); webhooks are answered 503 until it takes them", ErrStartsRefused, why, err)
		}
		if kept != nil {
			// No answer is no refusal: Redis is unreachable for now, as a PING would
			// find, whatever it refused before.
			return 0, fmt.Errorf("trying a write after Redis refused a start (%s, last at %s): %w", kept.err.Reason,
				kept.at.Format(time.RFC3339), err)
		}
		return 0, err
	}
	r.last.CompareAndSwap(kept, nil)
	return 0, nil
}
