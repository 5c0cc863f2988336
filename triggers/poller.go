package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"

	"github.com/hookflow/hookflow/workflows"
)

// Polls is what a Poller needs of the engine.
type Polls interface {
	// LastTick returns the last tick of schedule claimed (see Ticks).
	LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error)
	// ClaimTick claims a tick of schedule, once across every process.
	ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error)
	// PollCursor returns the cursor of the poll's last good poll; found false before its first.
	PollCursor(ctx context.Context, wf *workflows.Workflow, poll string) (cursor any, found bool, err error)
	// SavePoll records a good poll and its cursor.
	SavePoll(ctx context.Context, wf *workflows.Workflow, poll string, cursor any) error
	// MarkSeen records dedupe keys as started, without runs, for window.
	MarkSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error
	StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (id string, first bool, err error)
	StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, reason string) (string, error)
	// RecordPoll records how a poll went, for every process's admin API to show: the
	// runs it started, or its error ("" for none).
	RecordPoll(ctx context.Context, wf *workflows.Workflow, poll string, started int, pollErr string) error
}

// Poller runs the poll triggers of a workflow set. Every process serving the set runs
// one; each tick of a poll's schedule is claimed in Redis by one process, which polls.
// Each item of the answer not seen within the poll's seen_window starts one run: the
// check and the start are one atomic step (a start with a dedupe key made of the
// item's key), so however many processes poll, and whenever one stops, an item starts
// one run. A poll that fails starts nothing; the next good one catches up, since the
// items are still there.
type Poller struct {
	polls   Polls
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics // nil: none

	loops loops
}

// NewPoller returns a poller that keeps its state and starts runs with polls.
func NewPoller(polls Polls, log *slog.Logger, opts ...Option) *Poller {
	return &Poller{polls: polls, log: log, now: time.Now, metrics: newOptions(opts).metrics}
}

// Use stops the polls of the previous set and starts those of set.
func (p *Poller) Use(set *workflows.Set) {
	useLoops(&p.loops, set, p.run)
}

// Stop stops every poll; a poll under way finishes first (or gives up after
// pollTimeout).
func (p *Poller) Stop() { p.loops.stop() }

// pollTimeout bounds one poll: the request and the starts of its items.
const pollTimeout = 2 * time.Minute

// streak is a poll's run of failures in this process.
type streak struct {
	failures int
	retryAt  time.Time // no poll before
}

// retryAfter is how long a poll that failed n times in a row waits: its interval
// doubled per failure, from the interval (never faster) to an hour, or the interval
// when that is longer.
func retryAfter(every time.Duration, n int) time.Duration {
	d := every
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return max(every, min(d, time.Hour))
}

func (p *Poller) run(ctx context.Context, wf *workflows.Workflow, poll *Poll) {
	key := poll.Key()
	retry := newBackoff()
	var last time.Time
	for {
		var err error
		if last, err = p.polls.LastTick(ctx, wf, key); err == nil {
			break
		}
		p.log.Warn("poll: cannot read its last tick; retrying", "workflow", wf.Name, "err", err)
		if !sleepCtx(ctx, retry.next()) {
			return
		}
	}
	if now := p.now(); last.After(now.Add(maxSkew)) {
		last = now
	}
	st := &streak{}
	for {
		now := p.now()
		tick, _ := poll.Schedule.Due(last, now)
		if tick.IsZero() || now.Before(st.retryAt) {
			wait := maxSleep
			if next := poll.Schedule.Next(now); !next.IsZero() {
				wait = min(next.Sub(now), maxSleep)
			}
			if now.Before(st.retryAt) {
				wait = min(st.retryAt.Sub(now), maxSleep)
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		p.tick(ctx, wf, poll, st, tick)
		last = tick
	}
}

// tick claims a tick of a poll and, when this process claimed it, polls. A failure
// is logged once per streak of them, counted, and makes the poll wait (see retryAfter).
func (p *Poller) tick(ctx context.Context, wf *workflows.Workflow, poll *Poll, st *streak, tick time.Time) {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	claimed, err := p.polls.ClaimTick(ctx, wf, poll.Key(), tick)
	if err == nil && !claimed {
		return // another process polls this tick
	}
	var started int
	for err == nil {
		started, err = p.poll(ctx, wf, poll, tick)
		// Held back by its api's limits (a rate limit, a 429's Retry-After): the tick
		// is this process's, so it waits its turn and polls, rather than fail and back
		// off as if the API were down. pollTimeout bounds the waits.
		var th *workflows.Throttled
		if !errors.As(err, &th) || !sleepCtx(ctx, th.After) {
			break
		}
		err = nil
	}
	var said string
	if err != nil {
		said = wf.Secrets.String(err.Error())
	}
	if rerr := p.polls.RecordPoll(ctx, wf, poll.Key(), started, said); rerr != nil && err == nil {
		p.log.Warn("poll: cannot record how it went", "workflow", wf.Name, "err", rerr)
	}
	if err != nil {
		st.failures++
		p.metrics.pollFailed(wf.Name)
		every := poll.Schedule.Every
		if every == 0 {
			every = poll.Schedule.Next(tick).Sub(tick)
		}
		st.retryAt = p.now().Add(retryAfter(every, st.failures))
		if st.failures == 1 {
			p.log.Warn("poll failed; it starts nothing and is retried, backing off, until a poll succeeds (logged once per run of failures)",
				"workflow", wf.Name, "err", said)
		}
		return
	}
	if st.failures > 0 {
		p.log.Info("poll succeeds again", "workflow", wf.Name, "failed_polls", st.failures)
	}
	st.failures, st.retryAt = 0, time.Time{}
	if started > 0 {
		p.log.Info("poll started runs", "workflow", wf.Name, "runs", started)
	}
}

// errPoll is a poll whose answer cannot be read as its items: it fails the poll.
var errPoll = errors.New("poll")

// poll asks the API once and starts a run for each new item. It returns how many
// runs it started.
func (p *Poller) poll(ctx context.Context, wf *workflows.Workflow, poll *Poll, tick time.Time) (int, error) {
	cursor, found, err := poll.LastCursor(ctx, p.polls, wf)
	if err != nil {
		return 0, fmt.Errorf("reading the cursor: %w", err)
	}
	at := tick.UTC().Format(time.RFC3339)
	ans, err := poll.Fetch(ctx, wf, cursor, at)
	if err != nil {
		return 0, err
	}
	started := 0
	if !found && !poll.Backfill {
		// The first poll: what is there now is the past.
		if err := p.polls.MarkSeen(ctx, wf, ans.Keys, poll.SeenWindow); err != nil {
			return 0, fmt.Errorf("recording the items there before: %w", err)
		}
	} else if started, err = p.startAll(ctx, wf, poll, ans, at); err != nil {
		return started, err
	}
	if err := p.polls.SavePoll(ctx, wf, poll.Key(), ans.Cursor); err != nil {
		return started, fmt.Errorf("keeping the cursor: %w", err)
	}
	return started, nil
}

// startsInFlight is how many items of a poll are started at once: concurrent starts
// share round trips to Redis (the engine pipelines them), each still one atomic
// check-and-start.
const startsInFlight = 32

// startAll starts the run of each new item of ans, startsInFlight at a time, and
// returns how many it started. On an error it starts no more; the items not started
// are new again at the next poll, since the cursor is kept only after a good one.
func (p *Poller) startAll(ctx context.Context, wf *workflows.Workflow, poll *Poll, ans *Answer, at string) (int, error) {
	var (
		started atomic.Int64
		failed  atomic.Pointer[error]
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for range min(startsInFlight, len(ans.Items)) {
		wg.Go(func() {
			for failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ans.Items) {
					return
				}
				first, err := p.start(ctx, wf, poll, ans.Items[i], ans.Keys[i], at, ans.Pages[i])
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				if first {
					started.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return int(started.Load()), *err
	}
	return int(started.Load()), nil
}

// Answer is what one poll found: the items (at most the poll's max_items), the
// dedupe key of each ("poll:" and its key), the cursor for the next poll, and the
// request as sent, redacted.
type Answer struct {
	Items  []any
	Keys   []string
	Pages  []int // the page each item came on: 1 without paginate
	Cursor any
	Sent   *workflows.Request
}

// Fetch asks the API for the poll's items, at most max_items, with cursor as
// poll.cursor and at as poll.time: from its answer, or from every page of it with a
// paginate block. It reads their keys, and the next cursor from the last answer read.
// It changes nothing: a Poller starts the runs, hookflow run --poll shows them.
func (poll *Poll) Fetch(ctx context.Context, wf *workflows.Workflow, cursor any, at string) (*Answer, error) {
	pollValue := map[string]any{"cursor": cursor, "time": at}
	// The request's Idempotency-Key is <workflow>@<poll time>:poll, one per tick.
	call := &workflows.Call{Env: &workflows.Env{Vars: wf.Vars, Poll: pollValue}, RunID: wf.Name + "@" + at,
		Workflow: wf.Name, Step: "poll", Attempt: 1, Secrets: wf.Secrets}
	ans := &Answer{}
	resp, err := poll.pages(ctx, wf, call, ans)
	ans.Sent = call.Sent
	if err != nil {
		return ans, err
	}
	ans.Keys = make([]string, len(ans.Items))
	for i, item := range ans.Items {
		k, err := expr.Run(poll.ItemKey, itemEnv{Item: item, Vars: wf.Vars})
		if err != nil {
			return ans, fmt.Errorf("%w: key of item %d: %w", errPoll, i, err)
		}
		if k == nil || workflows.Text(k) == "" {
			return ans, fmt.Errorf("%w: item %d has no key", errPoll, i)
		}
		ans.Keys[i] = "poll:" + workflows.Text(k)
	}
	if poll.Cursor != nil {
		if ans.Cursor, err = expr.Run(poll.Cursor, answerEnv{Response: resp, Poll: pollValue, Vars: wf.Vars}); err != nil {
			return ans, fmt.Errorf("%w: cursor: %w", errPoll, err)
		}
	}
	return ans, nil
}

// pages reads the poll's items into ans, with the page of each, from the API's answer
// or every page of it with a paginate block, and returns the last answer read, which
// the cursor reads.
func (poll *Poll) pages(ctx context.Context, wf *workflows.Workflow, call *workflows.Call, ans *Answer) (map[string]any, error) {
	read := func(resp map[string]any, page int) error {
		v, err := expr.Run(poll.Items, answerEnv{Response: resp, Poll: call.Env.Poll, Vars: wf.Vars})
		if err != nil {
			return fmt.Errorf("%w: items: %w", errPoll, err)
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%w: items gave %T, not a list", errPoll, v)
		}
		for _, it := range list[:min(len(list), poll.MaxItems-len(ans.Items))] {
			ans.Items, ans.Pages = append(ans.Items, it), append(ans.Pages, page)
		}
		return nil
	}
	if pg, ok := poll.Request.(pager); ok && pg.Paginate() != nil {
		last, _, err := pg.Pages(ctx, call, func(page *workflows.PageEnv) (bool, error) {
			err := read(page.Response, page.Page)
			return err == nil && len(ans.Items) < poll.MaxItems, err
		})
		return last, err
	}
	out, err := poll.Request.Do(ctx, call)
	if err != nil {
		return nil, err
	}
	resp, _ := out.(map[string]any)
	return resp, read(resp, 1)
}

// start starts the run of one item unless it started one within the poll's
// seen_window; the workflow's filter applies to it. A filter that cannot be evaluated
// records a failed run that keeps the item, once.
func (p *Poller) start(ctx context.Context, wf *workflows.Workflow, poll *Poll, item any, key, at string, page int) (bool, error) {
	ev, err := poll.ItemEvent(item, at, page, p.now())
	if err != nil {
		return false, fmt.Errorf("%w: item %s: %w", errPoll, key, err)
	}
	if wf.Filter != nil {
		ok, ferr := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
		switch {
		case ferr != nil:
			if _, err := p.polls.StartFailed(ctx, wf, ev, "filter: "+ferr.Error()); err != nil {
				return false, err
			}
			return true, p.polls.MarkSeen(ctx, wf, []string{key}, poll.SeenWindow)
		case !ok:
			return false, nil // looked at again next poll: the item may change
		}
	}
	_, first, err := p.polls.StartOnce(ctx, wf, ev, key, poll.SeenWindow)
	if first {
		p.metrics.Received(wf.Name, "poll")
	}
	return first, err
}
