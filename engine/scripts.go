package engine

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every state change of the queue is one Lua script call; this file holds their handles
// and the one table that turns their error replies back into Go errors.

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script loads a script with the definitions of lib.lua it uses in front of it. Redis
// runs a script's whole text at every call, so each script carries only what it uses:
// a function it does not call would be made anew at every call, for nothing.
func script(name string) *redis.Script {
	lib, src := scriptSource(name)
	return redis.NewScript(uses(lib, src) + "\n" + src)
}

// scriptSource is lib.lua's text and a script's.
func scriptSource(name string) (lib, src string) {
	l, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		panic(err)
	}
	s, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	return string(l), string(s)
}

// notWord splits a text into its identifiers (and numbers).
func notWord(r rune) bool {
	return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}

// definedRE finds the names a chunk of lib.lua defines: local functions and locals.
var definedRE = regexp.MustCompile(`(?m)^local (?:function (\w+)|([\w, ]+) =)`)

// uses returns the chunks of lib (text between blank lines) that define a name src
// uses, or that such a chunk uses, in lib's order.
func uses(lib, src string) string {
	type chunk struct {
		text  string
		names []string
		used  bool
	}
	var chunks []*chunk
	for _, text := range strings.Split(lib, "\n\n") {
		c := &chunk{text: text}
		for _, m := range definedRE.FindAllStringSubmatch(text, -1) {
			for _, n := range strings.Split(m[1]+m[2], ",") {
				if n = strings.TrimSpace(n); n != "" {
					c.names = append(c.names, n)
				}
			}
		}
		if len(c.names) > 0 {
			chunks = append(chunks, c)
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
				// Code that defines nothing this can see: a blank line inside a function,
				// or a definition written another way. It would be dropped, and a script
				// would miss it only when it ran.
				panic(fmt.Sprintf("lib.lua: a chunk of code defines no local this can see: %q", l))
			}
		}
	}
	for pending := []string{src}; len(pending) > 0; {
		words := map[string]bool{}
		for _, w := range strings.FieldsFunc(pending[0], notWord) {
			words[w] = true
		}
		pending = pending[1:]
		for _, c := range chunks {
			if c.used {
				continue
			}
			for _, n := range c.names {
				if words[n] {
					c.used = true
					pending = append(pending, c.text)
					break
				}
			}
		}
	}
	var out []string
	for _, c := range chunks {
		if c.used {
			out = append(out, c.text)
		}
	}
	return strings.Join(out, "\n\n")
}

var (
	startScript     = script("start.lua")
	leaseScript     = script("lease.lua")
	completeScript  = script("complete.lua")
	advanceScript   = script("advance.lua")
	finishScript    = script("finish.lua")
	heartbeatScript = script("heartbeat.lua")
	releaseScript   = script("release.lua")
	deferScript     = script("defer.lua")
	pageScript      = script("page.lua")
	retryScript     = script("retry.lua")
	replayScript    = script("replay.lua")
	statsScript     = script("stats.lua")
	trimScript      = script("trim.lua")
	keepScript      = script("keep.lua")
	lastTickScript  = script("lasttick.lua")
	claimTickScript = script("claimtick.lua")
	cancelScript    = script("cancel.lua")
	wakeScript      = script("wake.lua")
	parkScript      = script("park.lua")
	resumeScript    = script("resume.lua")
	seenKeysScript  = script("seenkeys.lua")
	limitScript     = script("limit.lua")
	pollLockScript  = script("polllock.lua")
)

// startHash, completeHash, advanceHash, finishHash, retryHash and wakeHash are the
// SHA1s of the scripts that start runs, commit them, queue a unit again and wake a
// child's parent, boxed once as call arguments.
var (
	startHash    any = startScript.Hash()
	completeHash any = completeScript.Hash()
	advanceHash  any = advanceScript.Hash()
	finishHash   any = finishScript.Hash()
	wakeHash     any = wakeScript.Hash()
	retryHash    any = retryScript.Hash()
)

// evalsha runs an EVALSHA laid out whole by the caller, ["evalsha", hash, number of
// keys, keys..., args...]. When Redis lost the script (a restart, SCRIPT FLUSH, a
// replica promoted that never had it), the script is loaded on the node that serves
// the call's keys (loadOn), and the call sent once more; if that fails, the call runs
// with the script's text (EVAL), which goes where its keys are whatever the client
// knows of the cluster.
func evalsha(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, cmd []any) *redis.Cmd {
	c := redis.NewCmd(ctx, cmd...)
	_ = rdb.Process(ctx, c)
	if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		keys, args, err := splitCall(cmd)
		if err != nil {
			c.SetErr(err)
			return c
		}
		if loadOn(ctx, rdb, s, keys[0]) != nil {
			return s.Eval(ctx, rdb, keys, args...)
		}
		c = redis.NewCmd(ctx, cmd...)
		_ = rdb.Process(ctx, c)
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Loaded on another node than the one that took the call: after a failover,
			// a slot map not yet updated names the old primary, which takes SCRIPT LOAD
			// as a replica and moves the call to the new one. Nothing of it ran.
			return s.Eval(ctx, rdb, keys, args...)
		}
	}
	return c
}

// loadOn loads s (SCRIPT LOAD) on the node that serves key. go-redis's SCRIPT LOAD on a
// cluster goes to every primary and replica, and fails while any of them is down, as
// one is in a failover. A script loaded so stays (EVAL's are dropped first when Redis
// 7.4 keeps too many).
func loadOn(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, key string) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		return s.Load(ctx, node).Err()
	}
	return s.Load(ctx, rdb).Err()
}

// splitCall is an EVALSHA's keys and arguments, as its caller laid it out.
func splitCall(cmd []any) ([]string, []any, error) {
	if len(cmd) < 3 {
		return nil, nil, fmt.Errorf("a script call of %d arguments", len(cmd))
	}
	n, err := keyCount(cmd[2])
	if err != nil || n < 1 || 3+n > len(cmd) { // every call of the queue names a key
		return nil, nil, fmt.Errorf("a script call with a key count of %v", cmd[2])
	}
	keys := make([]string, n)
	for i := range keys {
		k, ok := cmd[3+i].(string)
		if !ok {
			return nil, nil, fmt.Errorf("a script call with a key of type %T", cmd[3+i])
		}
		keys[i] = k
	}
	return keys, cmd[3+n:], nil
}

var (
	// errStaleLease is returned when a commit carries a token that is no longer the
	// job's: the lease expired and the job was handed to someone else, or it was
	// committed already.
	errStaleLease = errors.New("lease is no longer held")
	// errTickTaken is returned for the start of a tick at or before the last one started.
	errTickTaken = errors.New("a later tick of the schedule started already")
	errNotFailed = fmt.Errorf("%w: only a failed run can be", ErrCannotReplay)
)

// scriptErrors maps the codes of scripts/lib.lua's error replies to Go errors. An
// error whose message matters (busy, clock) is wrapped with it.
var scriptErrors = map[string]error{
	"HFSTALE":     errStaleLease,
	"HFNOTFOUND":  ErrNotFound,
	"HFNOTFAILED": errNotFailed,
	"HFBUSY":      ErrBusy,
	"HFCLOCK":     errClock,
	"HFTICK":      errTickTaken,
	"HFFINISHED":  ErrFinished,
	"HFRESUMED":   ErrResumed,
	"HFWAITOVER":  errWaitOver,
	"HFDEADLINE":  errPastDeadline,
}

// errClock is a tick refused because this process's clock is ahead of Redis's.
var errClock = errors.New("clock ahead of Redis")

// scriptError turns a script's error reply into its Go error; other errors (Redis
// unreachable, a script bug) pass through.
func scriptError(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return err
	}
	code, msg, _ := strings.Cut(re.Error(), " ")
	known, ok := scriptErrors[code]
	switch {
	case !ok:
		return err
	case known == errClock:
		return errors.New(msg)
	case known == ErrBusy:
		return fmt.Errorf("%w (%s)", ErrBusy, msg)
	}
	return known
}
