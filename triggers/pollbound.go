package triggers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A poll that starts runs reads its pages until its pages' end, saveMargin before its
// bound (pollBound), and no longer: a page still in flight then, or still waiting for
// its api's limits, is given up, and the poll is cut by time (CutTime) with the items of
// the pages it read, which it starts in the time kept, rather than lose them with the
// poll at its bound, poll after poll, against an API that is always slow. A list that
// fits before its pages' end is read whole: nothing is kept back for a page not asked
// for yet. The first page has the whole bound, as before: a poll that reads no page
// fails. What the poll then keeps (its cursor, the items it keeps seen) is kept within
// its lock but past its bound (see saving).

// saveMargin is the time before its bound that a poll that starts runs keeps from its
// pages, to start the items of the pages read: 5s, or a quarter of a bound shorter than
// 20s.
func saveMargin(bound time.Duration) time.Duration { return min(5*time.Second, bound/4) }

// errPageTime is the cause of a poll's pages cut at their end.
var errPageTime = errors.New("the poll's time for its pages is over")

// pageTimes times the pages of a poll that starts runs, on the poller's clock, and
// ends them (see saveMargin).
type pageTimes struct {
	now   func() time.Time
	after afterFunc
	end   time.Time // when its pages end; zero: never
	bound time.Duration
	start time.Time // when its first page was asked for
	last  time.Time // when its last page read was read
	pages int       // the pages timed: those the list went on after
	// slowest is the longest of its pages; inFlight is how long the page given up at
	// its pages' end (or its wait for its api's limits) had taken by then.
	slowest, inFlight time.Duration
	// before is the time of its bound gone before its first page was asked for: the
	// waits its API asked for (a Retry-After, its api's limits) and the answers they
	// held back.
	before time.Duration
	cancel context.CancelCauseFunc // ends the pages' context, errPageTime the cause at their end
	stop   func() bool             // stops the timer of their end; nil before it is set
}

// afterFunc calls f in its own goroutine once d has passed, unless stop is called first
// (time.AfterFunc); a poller's tests give one on the clock they move on.
type afterFunc func(d time.Duration, f func()) (stop func() bool)

// timePages returns the pageTimes of a poll about to ask for its first page, and the
// context its pages are read in, which their end cuts. done must be called once its
// pages are read.
func (p *Poller) timePages(ctx context.Context, poll *Poll) (*pageTimes, context.Context) {
	now := p.now()
	t := &pageTimes{now: p.now, after: p.after, bound: p.pollBound(poll), start: now, last: now}
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		t.before = max(0, t.bound-left)
		t.end = now.Add(left - saveMargin(t.bound))
	}
	ctx, t.cancel = context.WithCancelCause(ctx)
	return t, ctx
}

// more is Look.More: it is called once a page is read, with a page after it. It reads
// on until the pages' end, and sets the timer that gives up a page in flight then.
func (t *pageTimes) more() bool {
	now := t.now()
	t.pages++
	t.slowest = max(t.slowest, now.Sub(t.last))
	t.last = now
	if t.end.IsZero() {
		return true
	}
	if !now.Before(t.end) {
		return false
	}
	if t.stop == nil {
		t.stop = t.after(t.end.Sub(now), func() { t.cancel(errPageTime) })
	}
	return true
}

// cutBy reports whether err, what reading the poll's pages in ctx failed with, is
// their end come with a page read: the page in flight, or its wait for its api's
// limits, is given up, and the poll is cut by time. A wait the limits refuse as it
// would pass the poll's bound (workflows.ErrPastDeadline) would pass their end too.
// Another failure is the poll's, even as their end comes: an answer that failed, a
// network timeout (which matches context.DeadlineExceeded, as a deadline does).
func (t *pageTimes) cutBy(ctx context.Context, err error) bool {
	if t.pages == 0 || err == nil {
		return false
	}
	pastLimits := errors.Is(err, workflows.ErrPastDeadline)
	ended := errors.Is(context.Cause(ctx), errPageTime) && (errors.Is(err, errPageTime) || errors.Is(err, context.Canceled))
	if !ended && !(pastLimits && (ctx.Err() == nil || errors.Is(context.Cause(ctx), errPageTime))) {
		return false
	}
	t.inFlight = t.now().Sub(t.last)
	return true
}

// done stops the timer of the pages' end and frees their context.
func (t *pageTimes) done() {
	if t.stop != nil {
		t.stop()
	}
	t.cancel(nil)
}

// took is how long the pages timed took.
func (t *pageTimes) took() time.Duration { return t.last.Sub(t.start) }

// waited reports whether the waits before the first page took enough of the bound to
// have cut the poll short: more than its slowest page.
func (t *pageTimes) waited() bool { return t.before > t.slowest }

// need is the bound that would have let the poll read one more page: the time its
// pages took, one more as slow as the slowest (or as the one given up, when that had
// taken longer), and saveMargin; with waits, the time gone before its first page too.
func (t *pageTimes) need(waits bool) time.Duration {
	d := t.took() + max(t.slowest, t.inFlight) + saveMargin(t.bound)
	if waits {
		d += t.before
	}
	return d
}

// timeoutAbove is the poll's timeout that would give it need (a poll may take twice
// its timeout). Its list goes on past that page: the timeout its whole list needs is
// longer still.
func (t *pageTimes) timeoutAbove(waits bool) time.Duration {
	return (t.need(waits) / 2).Truncate(time.Second) + time.Second
}

// figures says how a poll cut by time spent its bound, and what lets it read on.
func (t *pageTimes) figures(poll *Poll) string {
	s := fmt.Sprintf("its %d pages read took %s (the slowest %s) of the %s a poll may take, the longer of 2 minutes and "+
		"twice its timeout (%s)", t.pages, workflows.FormatDuration(t.took().Round(time.Millisecond)),
		workflows.FormatDuration(t.slowest.Round(time.Millisecond)), workflows.FormatDuration(t.bound),
		workflows.FormatDuration(poll.Timeout))
	raise := func(waits bool) string {
		return fmt.Sprintf("raise its timeout above half the time its whole list takes to read: above %s at least",
			workflows.FormatDuration(t.timeoutAbove(waits)))
	}
	if !t.waited() {
		// What went before its first page is part of its time all the same.
		return s + ": " + raise(true)
	}
	s = fmt.Sprintf("%s, %s of it gone before its first page, waiting as its API asked (a Retry-After, its api's limits): "+
		"a poll its API does not hold back has that time for its pages", s, workflows.FormatDuration(t.before.Round(time.Millisecond)))
	if t.need(false) > t.bound {
		s += "; they need more all the same: " + raise(false)
	}
	return s
}

// noFurther is the error of a poll with a cursor whose pages are cut (by max_pages, or
// by its bound) with nothing to start on them: every item on them has started (or the
// filter turns it down). The cursor stays where it was, so the next poll would read
// the same pages again; the error says what lets it read further.
func (p *Poller) noFurther(poll *Poll, ans *Answer, times *pageTimes) error {
	pages, raise := "the max_pages pages read", "raise the paginate block's max_pages"
	if ans.Cut == CutTime {
		pages, raise = "the pages read in the poll's time", times.figures(poll)
	}
	items := fmt.Sprintf("the %d items of %s have all started runs (or the filter turns them down) and the list goes on "+
		"past them", len(ans.Items), pages)
	if len(ans.Items) == 1 {
		items = fmt.Sprintf("the one item of %s has started a run (or the filter turns it down) and the list goes on past it", pages)
	}
	return fmt.Errorf("%w: %s, but the cursor stays where it was until a poll reads its list to the end, so no poll can "+
		"get further: %s", errPoll, items, raise)
}

// logCutTime warns of a poll cut by its bound (CutTime), the first of a run of them.
func (p *Poller) logCutTime(wf *workflows.Workflow, poll *Poll, out polled) {
	bound := workflows.FormatDuration(p.pollBound(poll))
	if out.inStarts {
		then := "the next poll reads its list again and starts them"
		if poll.Cursor != nil {
			then = "the next poll asks again with the cursor it had and starts them"
		}
		p.log.Warn("poll ran out of its time while it started its items: the runs it started are started, and "+then+
			" (logged once per run of such polls)", "workflow", wf.Name, "limit", bound, "started", out.started)
		return
	}
	t := out.times
	then := "the next poll reads the same pages again, skipping the items started, and the pages past those it has " +
		"time for are not looked at"
	if poll.Cursor != nil {
		then = "the next poll asks again with the cursor it had, skipping the items started; once the items of the pages " +
			"it has time for have all started, it fails until it has time for more"
	}
	msg := "poll's pages took longer than it may take: it started the new items of the pages it read and left the rest " +
		"of its list to the next polls; "
	if t.waited() {
		msg = "poll had too little time left for its pages, having waited as its API asked (a Retry-After, its api's " +
			"limits): it started the new items of the pages it read and left the rest of its list to the next polls; "
	}
	p.log.Warn(msg+then+" (logged once per run of such polls)", "workflow", wf.Name, "limit", bound,
		"pages", t.pages, "took", workflows.FormatDuration(t.took().Round(time.Millisecond)),
		"slowest", workflows.FormatDuration(t.slowest.Round(time.Millisecond)),
		"waited", workflows.FormatDuration(t.before.Round(time.Millisecond)), "started", out.started)
}

// saveFloor is the least time a poll has to keep what it did (see saving).
const saveFloor = 3 * time.Second

// saving returns the context in which a poll keeps what it did (the items it keeps
// seen, its cursor): not the poll's own, which its bound ends, so that a poll whose
// bound comes as it keeps them (its starts done just before it) is not failed for
// it. It lasts as long as the poll's lock surely does (kept every lockKeep until the
// bound, for lockTTL: a keep under way at the bound is cut, and the one before may
// have failed, so lockTTL-2*lockKeep past the bound), saveFloor at least. A reload
// or a stop that cancels the poll, or its lock lost, cancels it too: such a poll
// keeps nothing, and the next poll reads what it would have.
func (p *Poller) saving(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
			cancel(cause)
		}
	})
	sctx, end := context.WithDeadline(sctx, later(d.Add(p.lockTTL-2*p.lockKeep), time.Now().Add(saveFloor)))
	return sctx, func() {
		stop()
		end()
		cancel(nil)
	}
}
