package triggers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// pageMargin is the time a poll that starts runs keeps, past its slowest page, when
// it reads on: to start the items of the pages it read and keep its cursor.
const pageMargin = time.Second

// pageTimes times the pages of a poll that starts runs, on the poller's clock, so that
// it reads on while the time left before its bound holds its slowest page so far and
// pageMargin: a list that fits the bound is read whole, and one that does not is cut
// (CutTime) with time left to start the items of the pages read, rather than lost
// with them at the bound, poll after poll, against an API that is always slow.
type pageTimes struct {
	now      func() time.Time
	deadline time.Time // the poll's bound; zero: none
	bound    time.Duration
	start    time.Time // when its first page was asked for
	last     time.Time // when its last page read was read
	pages    int       // the pages timed: those the list went on after
	slowest  time.Duration
	// before is the time of its bound gone before its first page was asked for: the
	// waits its API asked for (a Retry-After, its api's limits) and the answers they
	// held back.
	before time.Duration
}

// timePages returns the pageTimes of a poll about to ask for its first page.
func (p *Poller) timePages(ctx context.Context, poll *Poll) *pageTimes {
	now := p.now()
	t := &pageTimes{now: p.now, bound: p.pollBound(poll), start: now, last: now}
	if d, ok := ctx.Deadline(); ok {
		t.deadline = d
		t.before = max(0, t.bound-d.Sub(now))
	}
	return t
}

// more is Look.More: it is called once a page is read, with a page after it.
func (t *pageTimes) more() bool {
	now := t.now()
	t.pages++
	t.slowest = max(t.slowest, now.Sub(t.last))
	t.last = now
	return t.deadline.IsZero() || t.deadline.Sub(now) > t.slowest+pageMargin
}

// took is how long the pages timed took.
func (t *pageTimes) took() time.Duration { return t.last.Sub(t.start) }

// waited reports whether the waits before the first page took enough of the bound to
// have cut the poll short: more than a page and the margin it keeps.
func (t *pageTimes) waited() bool { return t.before > t.slowest+pageMargin }

// timeoutAbove is the poll's timeout that would have let it read one more page: half
// of its pages' time, that page's and pageMargin (a poll may take twice its timeout).
// Its list goes on past that page: the timeout its whole list needs is longer still.
func (t *pageTimes) timeoutAbove() time.Duration {
	return ((t.took() + t.slowest + pageMargin) / 2).Truncate(time.Second) + time.Second
}

// figures says how a poll cut by time spent its bound, and what lets it read on.
func (t *pageTimes) figures(poll *Poll) string {
	s := fmt.Sprintf("its %d pages read took %s (the slowest %s) of the %s a poll may take, the longer of 2 minutes and "+
		"twice its timeout (%s)", t.pages, workflows.FormatDuration(t.took().Round(time.Millisecond)),
		workflows.FormatDuration(t.slowest.Round(time.Millisecond)), workflows.FormatDuration(t.bound),
		workflows.FormatDuration(poll.Timeout))
	raise := fmt.Sprintf("raise its timeout above half the time its whole list takes to read: above %s at least",
		workflows.FormatDuration(t.timeoutAbove()))
	if !t.waited() {
		return s + ": " + raise
	}
	s = fmt.Sprintf("%s, %s of it gone before its first page, waiting as its API asked (a Retry-After, its api's limits): "+
		"a poll its API does not hold back has that time for its pages", s, workflows.FormatDuration(t.before.Round(time.Millisecond)))
	if t.took()+t.slowest+pageMargin > t.bound {
		s += "; they need more all the same: " + raise
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

// pastBound returns ctx, or, when the poll's bound has passed, a context of a few
// seconds more: a poll whose bound came during its starts keeps its items seen and its
// cursor with it, and is a cut poll rather than a failed one.
func pastBound(ctx context.Context) (context.Context, context.CancelFunc) {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}
