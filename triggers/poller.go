package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Polls is what a Poller needs of the engine.
type Polls interface {
	// LastTickFrom returns the last tick of schedule claimed (see Ticks), or, the first
	// time schedule is asked for, the last kept under former, the name it had before.
	LastTickFrom(ctx context.Context, wf *workflows.Workflow, schedule, former string) (time.Time, error)
	// ClaimTick claims a tick of schedule, once across every process.
	ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error)
	// PollState returns what the poll kept after its last good poll; found false
	// before its first.
	PollState(ctx context.Context, wf *workflows.Workflow, poll string) (st workflows.PollState, found bool, err error)
	// SavePoll records a good poll: its cursor, and whether its first still records.
	SavePoll(ctx context.Context, wf *workflows.Workflow, poll string, st workflows.PollState) error
	// MarkSeen records dedupe keys as started, without runs, for window.
	MarkSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error
	// Seen reports, for each dedupe key, whether it started a run (or was recorded)
	// within its window.
	Seen(ctx context.Context, wf *workflows.Workflow, keys []string) ([]bool, error)
	// KeepSeen makes the dedupe keys that exist last window from now.
	KeepSeen(ctx context.Context, wf *workflows.Workflow, keys []string, window time.Duration) error
	StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (id string, first bool, err error)
	StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, reason string) (string, error)
	// RecordPoll records how a poll went, for every process's admin API to show: the
	// runs it started, or its error ("" for none).
	RecordPoll(ctx context.Context, wf *workflows.Workflow, poll string, started int, pollErr string) error
	pollLocks
	pollWaits
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
	after   afterFunc // time.AfterFunc: what ends a poll's pages (see pageTimes)
	metrics *Metrics  // nil: none

	// lockTTL and lockKeep are how long a poll's lock lasts, and how often a poll
	// under way keeps it (pollLockTTL, pollLockKeep).
	lockTTL, lockKeep time.Duration
	// timeout is how long one poll may take at least (pollTimeout; see pollBound).
	timeout time.Duration

	using   sync.Mutex // held by Use and Stop, one at a time
	mu      sync.Mutex
	streaks map[streakKey]*streak   // each poll trigger's, kept across reloads (see keepStreaks)
	inUse   map[*Poll]*streak       // the streak of each poll of the set in use
	running map[streakKey]*pollLoop // the loop of each poll trigger of the set in use
}

// NewPoller returns a poller that keeps its state and starts runs with polls.
func NewPoller(polls Polls, log *slog.Logger, opts ...Option) *Poller {
	return &Poller{polls: polls, log: log, now: time.Now, after: func(d time.Duration, f func()) func() bool {
		return time.AfterFunc(d, f).Stop
	}, metrics: newOptions(opts).metrics, lockTTL: pollLockTTL, lockKeep: pollLockKeep, timeout: pollTimeout}
}

// pollTimeout bounds one poll: its requests (each within the poll's timeout), their
// waits for the api's limits, and the starts of its items.
const pollTimeout = 2 * time.Minute

// pollBound is how long one poll may take: pollTimeout, or twice the poll's timeout
// when that is longer, so that a request may take its timeout. A poll that starts runs
// stops reading pages a little before it (see saveMargin), and starts the new items of
// those it read, as a poll cut by max_pages does (CutTime).
func (p *Poller) pollBound(poll *Poll) time.Duration { return max(p.timeout, 2*poll.Timeout) }

// streak is a poll's run of failures in this process, kept across reloads.
type streak struct {
	failures int
	retryAt  time.Time // no poll before
	cuts     int       // good polls in a row that left part of their list to later polls
	skips    int       // ticks in a row skipped, as the poll of an earlier one was under way
	version  string    // the version of the poll's workflow in the set in use
	// waitLogged is the last time its API asked the poll to wait until that this
	// process logged (see waiting).
	waitLogged time.Time
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

// tick claims a tick of a poll and, when this process claimed it, polls, unless the
// poll of an earlier tick is still under way (see hold) or its API asked to wait (see
// waiting). A failure is logged once per streak of them, counted, and makes the poll
// wait (see retryAfter, and keepWait for a Retry-After). A poll that loop,
// the context of the poll's loop, cancels (a reload that changed or dropped the
// trigger, or a stop) is no failure: the next poll reads what it would have.
func (p *Poller) tick(loop context.Context, wf *workflows.Workflow, poll *Poll, st *streak, tick time.Time) {
	bound := p.pollBound(poll)
	ctx, cancel := context.WithTimeout(loop, bound)
	defer cancel()
	claimed, err := p.polls.ClaimTick(ctx, wf, poll.Key(), tick)
	if err == nil && !claimed {
		return // another process polls this tick
	}
	if err == nil {
		var release func()
		held := false
		ctx, release, held, err = p.hold(ctx, wf, poll)
		defer release()
		if err == nil && !held {
			p.skipped(wf, st)
			return
		}
		if err == nil {
			// Read under the lock, which a poll asked to wait frees only once it kept
			// the time: no poll comes between.
			var waits bool
			if waits, err = p.waiting(ctx, wf, poll, st); err == nil && waits {
				return
			}
		}
	}
	st.skips = 0
	var out polled
	for err == nil {
		out, err = p.poll(ctx, wf, poll, tick)
		// Held back by its api's limits (a rate limit, a 429's Retry-After): the tick
		// is this process's, so it waits its turn and polls, rather than fail and back
		// off as if the API were down. pollBound bounds the waits.
		var th *workflows.Throttled
		if !errors.As(err, &th) || th.Err != nil || !sleepCtx(ctx, th.After) {
			break // Redis not answering (th.Err) fails the poll, which backs off
		}
		err = nil
	}
	if err != nil && loop.Err() != nil {
		p.log.Info("poll stopped, by a reload that changed or removed its trigger or by a stop: no failure; the next poll "+
			"reads what it would have", "workflow", wf.Name, "started", out.started)
		return
	}
	if err != nil && errors.Is(context.Cause(ctx), errLockLost) {
		err = fmt.Errorf("%w: %w", errLockLost, err)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// What ran out is the poll's time, not a request's: say how long it had.
		then := "the next poll asks again from the cursor kept"
		if poll.Cursor == nil {
			then = "the next poll reads its list again"
		}
		err = fmt.Errorf("the poll stopped after %s, its limit (2 minutes, or twice its timeout when longer); %s: %w",
			workflows.FormatDuration(bound), then, err)
	}
	p.report(ctx, wf, poll, st, tick, out, err)
}

// report records how a poll went, for every process to show, logs it and keeps its
// streak.
func (p *Poller) report(ctx context.Context, wf *workflows.Workflow, poll *Poll, st *streak, tick time.Time, out polled, err error) {
	var said string
	if err != nil {
		said = wf.Secrets.String(err.Error())
	}
	// Recorded though the poll's own context is over (its bound passed, its lock lost).
	rctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if rerr := p.polls.RecordPoll(rctx, wf, poll.Key(), out.started, said); rerr != nil && err == nil {
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
		p.keepWait(rctx, wf, poll, st, err)
		return
	}
	if st.failures > 0 {
		p.log.Info("poll succeeds again", "workflow", wf.Name, "failed_polls", st.failures)
	}
	st.failures, st.retryAt = 0, time.Time{}
	switch {
	case out.first && out.recording:
		p.log.Info("poll: its first records what is there and starts nothing (backfill = false); the list goes on, and the next poll "+
			"goes on recording from where this one stopped", "workflow", wf.Name, "recorded", out.recorded)
	case out.first:
		p.log.Info("poll: its first recorded what was there, to the end of the list, and started nothing (backfill = false); "+
			"the items that come from now on start runs", "workflow", wf.Name, "recorded", out.recorded)
	}
	if out.started > 0 {
		p.log.Info("poll started runs", "workflow", wf.Name, "runs", out.started)
	}
	p.logCut(wf, poll, st, out)
}

// skipped logs, once per run of them, the ticks that a poll skips as the poll of an
// earlier tick is under way, in another process: it holds the poll's lock.
func (p *Poller) skipped(wf *workflows.Workflow, st *streak) {
	st.skips++
	if st.skips == 1 {
		p.log.Info("poll: a tick is skipped, as the poll of an earlier tick is still under way in another process; the next "+
			"tick polls (logged once per run of skipped ticks)", "workflow", wf.Name)
	}
}

// logCut warns, once per run of them, of polls that leave part of their list to
// later polls, and says when a poll reads its whole list again.
func (p *Poller) logCut(wf *workflows.Workflow, poll *Poll, st *streak, out polled) {
	if out.cut == "" {
		if st.cuts > 0 {
			p.log.Info("poll read its whole list again", "workflow", wf.Name, "cut_polls", st.cuts)
		}
		st.cuts = 0
		return
	}
	st.cuts++
	if st.cuts > 1 {
		return
	}
	if out.cut == CutTime {
		p.logCutTime(wf, poll, out)
		return
	}
	kept := ""
	if poll.Cursor != nil {
		kept = ", asking again with the cursor it had"
	}
	if out.cut == CutMaxItems {
		p.log.Warn("poll found more new items than max_items: it started max_items and left the rest to the next polls"+kept+
			" until it has started them all (logged once per run of such polls)",
			"workflow", wf.Name, "max_items", poll.MaxItems, "started", out.started, "left", out.left)
		return
	}
	if poll.Cursor != nil {
		kept += "; once the items of the pages it reads have all started, it fails until max_pages is raised"
	}
	p.log.Warn("poll read max_pages pages and its list goes on: the items on the pages after them are not looked at"+kept+
		" (logged once per run of such polls)", "workflow", wf.Name, "started", out.started)
}

// errPoll is a poll whose answer cannot be read as its items: it fails the poll.
var errPoll = errors.New("poll")

// polled is what one good poll did: the runs it started, and why it left part of its
// list to later polls ("" when it did not), with the new items it saw past max_items.
// A poll's first, without backfill, starts nothing: it records the items there
// (recorded), and recording says it has not read its list to the end yet.
type polled struct {
	started   int
	cut       Cut
	left      int
	inStarts  bool       // cut by time (CutTime) while it started its items
	times     *pageTimes // its pages' times; nil for a poll's first
	recorded  int
	recording bool
	first     bool // the poll recorded what is there
}

// poll asks the API once and starts a run for each new item, at most max_items. The
// cursor moves to the one read from the answer only when the poll looked at its whole
// list: when max_items, max_pages or its bound cut it (its pages' end, see pageTimes,
// or its bound during its starts), the poll keeps the cursor it was sent with, so that
// the next poll asks for the same items again, skips those started and starts those
// cut. What it keeps, it keeps in the time saving gives. A poll's first, without
// backfill, records what is there instead (see record), and is never cut by its
// bound: it stops between its answers (timeForOneMore), or fails.
func (p *Poller) poll(ctx context.Context, wf *workflows.Workflow, poll *Poll, tick time.Time) (polled, error) {
	st, found, err := poll.LastState(ctx, p.polls, wf)
	if err != nil {
		return polled{}, fmt.Errorf("reading the cursor: %w", err)
	}
	at := tick.UTC().Format(time.RFC3339)
	if (!found || st.Recording) && !poll.Backfill {
		return p.record(ctx, wf, poll, st, at)
	}
	cursor := st.Cursor
	times, pages := p.timePages(ctx, poll)
	ans, err := poll.Fetch(pages, wf, cursor, at, Look{Seen: func(ctx context.Context, keys []string) ([]bool, error) {
		return p.polls.Seen(ctx, wf, keys)
	}, Filter: true, Now: p.now(), More: times.more})
	cut := times.cutBy(pages, err)
	times.done()
	switch {
	case cut:
		// The page in flight at its pages' end is given up: the poll starts the items
		// of those it read, the items of the page given up new again at the next poll.
		ans.Cut, err = CutTime, nil
	case err != nil:
		return polled{}, err
	}
	if (ans.Cut == CutMaxPages || ans.Cut == CutTime) && ans.Starts == 0 && poll.Cursor != nil {
		// Kept, the cursor has the next poll read the same pages again, with nothing
		// new on them: it would never get further.
		sctx, done := p.saving(ctx)
		defer done()
		if err := p.keepSeen(sctx, wf, poll, ans, tick); err != nil {
			return polled{}, err
		}
		return polled{}, p.noFurther(poll, ans, times)
	}
	out := polled{cut: ans.Cut, times: times}
	for _, f := range ans.Items {
		if f.Status == ItemCut {
			out.left++
		}
	}
	if out.started, err = p.startAll(ctx, wf, poll, ans, at); err != nil {
		if out.started == 0 || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return out, err
		}
		// The bound came during the starts: the items started are in Redis, and the
		// rest are new again at the next poll, which asks from the cursor kept.
		out.cut, out.inStarts = CutTime, true
	}
	ctx, done := p.saving(ctx)
	defer done()
	next := ans.Cursor
	if out.cut != "" {
		next = cursor
		if err := p.keepSeen(ctx, wf, poll, ans, tick); err != nil {
			return out, err
		}
	}
	if err := p.polls.SavePoll(ctx, wf, poll.Key(), workflows.PollState{Cursor: next}); err != nil {
		return out, fmt.Errorf("keeping the cursor: %w", err)
	}
	return out, nil
}

// keepSeen keeps the items of a poll that keeps its cursor seen until the next poll
// has read them again, however short the seen_window: those seen before and those it
// started. The next poll comes within an interval, or within an hour after a failed
// poll (retryAfter).
func (p *Poller) keepSeen(ctx context.Context, wf *workflows.Workflow, poll *Poll, ans *Answer, tick time.Time) error {
	var keys []string
	for _, f := range ans.Items {
		if f.Status == ItemSeen || f.Status.Starts() {
			keys = append(keys, f.Key)
		}
	}
	gap := poll.Schedule.Every
	if gap == 0 {
		gap = poll.Schedule.Next(tick).Sub(tick)
	}
	if err := p.polls.KeepSeen(ctx, wf, keys, max(poll.SeenWindow, 2*max(gap, time.Hour))); err != nil {
		return fmt.Errorf("keeping the items seen: %w", err)
	}
	return nil
}

// startsInFlight is how many items of a poll are started at once: concurrent starts
// share round trips to Redis (the engine pipelines them), each still one atomic
// check-and-start.
const startsInFlight = 32

// startAll starts the run of each item of ans that starts one, startsInFlight at a
// time, and returns how many it started. On an error it starts no more; the items not
// started are new again at the next poll, since the cursor is kept only after a good
// one.
func (p *Poller) startAll(ctx context.Context, wf *workflows.Workflow, poll *Poll, ans *Answer, at string) (int, error) {
	var todo []*Found
	for i := range ans.Items {
		if ans.Items[i].Status.Starts() {
			todo = append(todo, &ans.Items[i])
		}
	}
	var (
		started atomic.Int64
		failed  atomic.Pointer[error]
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for range min(startsInFlight, len(todo)) {
		wg.Go(func() {
			for failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				first, err := p.start(ctx, wf, poll, todo[i], at)
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

// start starts the run of one item unless it started one within the poll's
// seen_window. An item the filter cannot be evaluated on records a failed run that
// keeps it, once.
func (p *Poller) start(ctx context.Context, wf *workflows.Workflow, poll *Poll, f *Found, at string) (bool, error) {
	ev := f.Event
	if ev == nil {
		var err error
		if ev, err = poll.ItemEvent(f.Value, at, f.Page, p.now()); err != nil {
			return false, fmt.Errorf("%w: item %s: %w", errPoll, f.Key, err)
		}
	}
	if f.Status == ItemFilterFails {
		if _, err := p.polls.StartFailed(ctx, wf, ev, f.Failure); err != nil {
			return false, err
		}
		return true, p.polls.MarkSeen(ctx, wf, []string{f.Key}, poll.SeenWindow)
	}
	_, first, err := p.polls.StartOnce(ctx, wf, ev, f.Key, poll.SeenWindow)
	if first {
		p.metrics.Received(wf.Name, "poll")
	}
	return first, err
}
