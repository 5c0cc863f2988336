package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipeliner sends the script calls of concurrent callers, the starts of runs and the
// commits of their units, in pipelined round trips: while one batch is with Redis, the
// next gathers, and a call alone goes at once. Under load a start or a commit then
// costs a share of a round trip's system calls, in hookflow and in Redis, instead of a
// whole one, and a webhook's start rides with the commits of the runs before it. Each
// shard has its own, so that a batch goes to one Redis Cluster node and a slow node
// holds up its own shards only.
type pipeliner struct {
	rdb   redis.UniversalClient
	calls chan *pipedCall
	start sync.Once
	// forms is the batch form of each script whose calls go together (manyOf).
	forms map[*redis.Script]*redis.Script
}

// pipedCall is one call: an EVALSHA command, made whole, and the script it runs, to be
// loaded again if Redis lost it.
type pipedCall struct {
	cmd    *redis.Cmd
	script *redis.Script
	done   chan struct{}
	// given is a start's context: a start whose caller gave up before its batch was
	// sent is not sent, as a sender answered an error must not find its event started.
	// nil for a commit, which is sent once made.
	given context.Context
	// sendBy is when a start's caller stops waiting for it (batchWait after it was
	// made, or its context's deadline), Unix ns: one not sent by then is not sent
	// either. (Not a time.Time: the call is made for every start, and fits 64 bytes.)
	sendBy int64
	// fate is whether a start was sent or its caller stopped waiting first: whichever
	// comes first settles it, so the caller knows which.
	fate fate
}

// fate settles a start's call between the batch that would send it and its caller,
// who may stop waiting: the first to claim it decides whether it is sent.
type fate struct{ state atomic.Int32 }

const (
	fateOpen int32 = iota
	fateSent
	fateDropped
)

// send claims the call for its batch, false when its caller stopped waiting first.
func (f *fate) send() bool { return f.state.CompareAndSwap(fateOpen, fateSent) }

// giveUp is the caller's error when it stops waiting (err, its context's or a
// deadline's): err when the call was never sent, and never will be; else
// ErrOutcomeUnknown, as Redis may have taken it.
func (f *fate) giveUp(err error) error {
	if f.state.CompareAndSwap(fateOpen, fateDropped) {
		return err
	}
	return fmt.Errorf("%w (%w)", ErrOutcomeUnknown, err)
}

// ErrOutcomeUnknown is returned for a start that was sent to Redis, whose answer did
// not come (in time, or at all): it may have been stored, and its run may run.
var ErrOutcomeUnknown error = outcomeUnknownError{}

type outcomeUnknownError struct{}

func (outcomeUnknownError) Error() string {
	return "Redis did not answer, so it may have been stored"
}

// MaybeStored tells a caller that does not import the engine (the webhook receiver)
// that the start may have been stored though it failed.
func (outcomeUnknownError) MaybeStored() bool { return true }

const (
	// batchFlushers is how many batches are with Redis at once: one, so that the calls
	// made while it is there all go in the next (two sent a call that came alone at
	// once, and Redis read, ran and answered most calls one by one).
	batchFlushers = 1
	maxPiped      = 128  // calls in one round trip, at most
	maxWaiting    = 1024 // calls waiting for a batch; past it, starts are refused
	// batchWait bounds a call, from when it is made to its answer: past it the caller
	// gets an error (and a webhook sender a 503) rather than wait on a Redis that does
	// not answer.
	batchWait = 10 * time.Second
)

// errBacklog refuses a start when too many calls wait for Redis already.
var errBacklog = fmt.Errorf("%w: too many starts waiting for Redis", ErrBusy)

func newPipeliner(rdb redis.UniversalClient) *pipeliner {
	return &pipeliner{rdb: rdb, calls: make(chan *pipedCall, maxWaiting), forms: manyOf}
}

// evalsha runs cmd (evalsha, the script's hash, the key count, keys and arguments) in
// the next batch and returns it done: a commit. cmd's arguments must stay as they are
// until it returns. When too many calls wait already, it runs alone. A batch ends
// within batchWait, whatever ctx says: a commit sent is waited for.
func (p *pipeliner) evalsha(ctx context.Context, s *redis.Script, args []any) *redis.Cmd {
	p.startFlushing()
	c := &pipedCall{cmd: redis.NewCmd(ctx, args...), script: s, done: make(chan struct{})}
	select {
	case p.calls <- c:
	default:
		return evalsha(ctx, p.rdb, s, args)
	}
	<-c.done
	return c.cmd
}

// run runs cmd (evalsha, the script's hash, the key count, keys and arguments) in the
// next batch and returns its result: a start. When too many calls wait already it is
// refused with errBacklog. A call whose ctx ends before it is sent is not sent; one
// whose ctx ends after may still take effect. The wait is bounded by batchWait, with a
// timer rather than a context with a deadline: a derived context also registers with
// its parent and unregisters, under the parent's lock, at every start.
func (p *pipeliner) run(ctx context.Context, s *redis.Script, cmd []any) (any, error) {
	p.startFlushing()
	c := &pipedCall{cmd: redis.NewCmd(ctx, cmd...), script: s, done: make(chan struct{}), given: ctx,
		sendBy: time.Now().Add(batchWait).UnixNano()}
	if d, ok := ctx.Deadline(); ok {
		c.sendBy = min(c.sendBy, d.UnixNano())
	}
	select {
	case p.calls <- c:
	default:
		return nil, errBacklog
	}
	wait := time.NewTimer(batchWait)
	defer wait.Stop()
	select {
	case <-c.done:
		return c.cmd.Result()
	case <-ctx.Done():
		if r, err, ok := answered(c); ok {
			return r, err
		}
		return nil, c.fate.giveUp(ctx.Err())
	case <-wait.C:
		if r, err, ok := answered(c); ok {
			return r, err
		}
		return nil, c.fate.giveUp(context.DeadlineExceeded)
	}
}

// answered is c's result when its batch answered it as its caller stopped waiting.
func answered(c *pipedCall) (any, error, bool) {
	select {
	case <-c.done:
		r, err := c.cmd.Result()
		return r, err, true
	default:
		return nil, nil, false
	}
}

// unanswered is the error of a start that was sent: err when it says the start was
// not taken (its script ran and refused it, or nothing was sent), a *RefusedError when
// Redis refused it before it wrote anything (redisRefusal: a full Redis, an ACL that
// denies EVALSHA), else ErrOutcomeUnknown, as Redis may have taken it. Other errors
// do not count: go-redis sends a command again after a network error, so a last
// error that says nothing was sent (a refused connection, a pool's timeout, LOADING, a
// cluster's MOVED or CLUSTERDOWN) may follow an attempt that Redis ran.
func unanswered(err error) error {
	var reply redis.Error
	switch {
	case err == nil, errors.Is(err, ErrNotReplicated), errors.Is(err, ErrOutcomeUnknown), errors.As(err, new(notSent)):
		return err
	case errors.As(err, &reply):
		if code, _, _ := strings.Cut(reply.Error(), " "); scriptErrors[code] != nil {
			return err
		}
		if why, none := redisRefusal(err); none {
			return &RefusedError{Reason: why, err: err}
		}
	}
	return fmt.Errorf("%w (%w)", ErrOutcomeUnknown, err)
}

// gaveUp is why a start's caller no longer waits for it, nil while it does (and for a
// commit).
func (c *pipedCall) gaveUp(now time.Time) error {
	switch {
	case c.given == nil:
		return nil
	case c.given.Err() != nil:
		return c.given.Err()
	case now.UnixNano() > c.sendBy:
		return context.DeadlineExceeded
	}
	return nil
}

func (p *pipeliner) startFlushing() {
	p.start.Do(func() {
		for range batchFlushers {
			go p.flush()
		}
	})
}

// flush sends the calls waiting, up to maxPiped, in one pipeline, for as long as the
// process lives.
func (p *pipeliner) flush() {
	batch := make([]*pipedCall, 0, maxPiped)
	for c := range p.calls {
		batch = gather(p.calls, append(batch[:0], c))
		p.exec(batch)
	}
}

// gather adds to batch the calls waiting in calls, without waiting for more, until
// batch holds maxPiped.
func gather[T any](calls <-chan T, batch []T) []T {
	for len(batch) < maxPiped {
		select {
		case c := <-calls:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

func (p *pipeliner) exec(batch []*pipedCall) {
	// Starts whose callers gave up are not made: their callers answered an error. A
	// batch of starts alone ends when the first of their callers stops waiting, so
	// that go-redis does not send it again (it retries a batch that met a network
	// error) after its caller was answered that it may be stored. A batch with commits
	// keeps batchWait: a commit sent is waited for.
	live, now := batch[:0], time.Now()
	end, commits := now.Add(batchWait), false
	for _, c := range batch {
		err := c.gaveUp(now)
		if err == nil && c.given != nil && !c.fate.send() {
			err = context.DeadlineExceeded
		}
		if err != nil {
			c.cmd.SetErr(err)
			close(c.done)
			continue
		}
		if c.given != nil && c.sendBy < end.UnixNano() {
			end = time.Unix(0, c.sendBy)
		}
		commits = commits || c.given == nil
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if commits {
		end = now.Add(batchWait)
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	sends := together(ctx, live, p.forms)
	if len(sends) == 1 {
		_ = p.rdb.Process(ctx, sends[0].cmd)
	} else {
		pipe := p.rdb.Pipeline()
		for _, s := range sends {
			_ = pipe.Process(ctx, s.cmd)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error
	}
	for _, s := range sends {
		if s.many == nil {
			continue
		}
		if err := s.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis lost the batch form: it is loaded for the next batch on the node of
			// these calls' keys (loadOn), or else run with no call, with its text, which
			// Redis keeps too; these calls run one by one, below, as nothing of them ran.
			key, _ := s.cmd.Args()[3].(string)
			if loadOn(ctx, p.rdb, s.many, key) != nil {
				_ = s.many.Eval(ctx, p.rdb, []string{key}, 0).Err()
			}
			for _, c := range s.calls {
				c.cmd.SetErr(err)
			}
			continue
		}
		setReplies(s.calls, s.cmd)
		putArgs(s.cmd.Args())
	}
	for _, c := range live {
		// Redis lost its scripts (a restart, SCRIPT FLUSH): evalsha gives the script
		// back and sends the call once more, unless it is a start whose caller gave up
		// meanwhile (the first try changed nothing).
		if err := c.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && c.gaveUp(time.Now()) == nil {
			c.cmd = evalsha(ctx, p.rdb, c.script, c.cmd.Args())
		}
		if err := c.cmd.Err(); err != nil && c.given != nil {
			c.cmd.SetErr(unanswered(err))
		}
		close(c.done)
	}
}

// send is one command of a batch: a call alone, or the calls of one script together in
// one call of its batch form (many.go).
type send struct {
	cmd   *redis.Cmd
	many  *redis.Script // nil for a call alone
	calls []*pipedCall  // the calls many runs
}

// maxManyArgs is the most keys and arguments a call may have to go with others in a
// batch form, which hands each call its own with Lua's unpack, and that puts them all
// on Lua's stack (8,000 at most in Redis). A call with more (a for_each step's listing
// of many items) goes alone.
const maxManyArgs = 256

// together lays out a batch's commands, in the order of the calls: the calls of a
// script that has a batch form (and at most maxManyArgs keys and arguments) go
// together, in the place of the first of them, when there are two or more.
func together(ctx context.Context, calls []*pipedCall, forms map[*redis.Script]*redis.Script) []send {
	groups := make([]send, 0, len(calls))
	for _, c := range calls {
		many := forms[c.script]
		if many == nil || len(c.cmd.Args()) > maxManyArgs {
			groups = append(groups, send{cmd: c.cmd}) // alone
			continue
		}
		i := slices.IndexFunc(groups, func(g send) bool { return g.many == many })
		if i < 0 {
			groups = append(groups, send{cmd: c.cmd, many: many})
			i = len(groups) - 1
		}
		groups[i].calls = append(groups[i].calls, c)
	}
	sends := make([]send, 0, len(calls))
	for _, g := range groups {
		switch {
		case g.many == nil:
			sends = append(sends, g)
			continue
		case len(g.calls) > 1:
			if cmd, err := manyCall(g.many, g.calls); err == nil {
				sends = append(sends, send{cmd: redis.NewCmd(ctx, cmd...), many: g.many, calls: g.calls})
				continue
			}
		}
		for _, c := range g.calls { // alone
			sends = append(sends, send{cmd: c.cmd})
		}
	}
	return sends
}
