package triggers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// maxRecordRequests is how many requests a poll's first sends, reading on, before it
// leaves the rest of the list to the next poll (its last answer may take it past them,
// by up to max_pages).
const maxRecordRequests = 100

// record is a poll's first, without backfill: it records the keys of what is there
// as seen, and starts nothing. One answer may be one page of the list, or max_pages of
// them: the poll reads on, with the cursor each answer gives, until an answer shows
// the end of the list (see listEnds). After each answer it keeps the cursor, saying it
// still records until the end: a poll that stops before the end (it fails, its process
// dies, or it has sent maxRecordRequests) leaves the next poll to go on recording
// from there, and no poll starts a run for an item that was there before.
func (p *Poller) record(ctx context.Context, wf *workflows.Workflow, poll *Poll, st workflows.PollState, at string) (polled, error) {
	cursor := st.Cursor
	out := polled{first: true, recording: true}
	look := Look{Seen: func(ctx context.Context, keys []string) ([]bool, error) {
		return p.polls.Seen(ctx, wf, keys)
	}, Record: true, Now: p.now()}
	ends := roundList{read: map[string]bool{}, empty: st.Empty} // the empty answers of the polls before too
	for sent, n := 0, 0; sent < maxRecordRequests; n++ {
		if n > 0 && !timeForOneMore(ctx, poll, 0) {
			return out, nil // the next poll goes on from the cursor kept
		}
		ans, err := poll.Fetch(ctx, wf, cursor, at, look)
		var th *workflows.Throttled
		switch {
		case err == nil:
		case n > 0 && errors.As(err, &th) && th.Err == nil:
			// Held back by its api's limits: it waits its turn when it has the time,
			// else it stops there, as above. (The first answer's wait is tick's.)
			wait := max(th.After, 10*time.Millisecond)
			if !timeForOneMore(ctx, poll, wait) || !sleepCtx(ctx, wait) {
				return out, nil
			}
			n--
			continue
		case n > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return out, nil // out of time in a request: as above
		default:
			return out, err
		}
		sent += max(len(ans.Sent), 1)
		var keys []string
		for _, f := range ans.Items {
			if f.Status == ItemRecorded {
				keys = append(keys, f.Key)
			}
		}
		if err := p.polls.MarkSeen(ctx, wf, keys, poll.SeenWindow); err != nil {
			return out, fmt.Errorf("recording the items there before: %w", err)
		}
		out.recorded += len(keys)
		end := poll.listEnds(ans, cursor) || ends.goesRound(ans)
		kept := workflows.PollState{Cursor: ans.Cursor, Recording: !end}
		if !end {
			kept.Empty = ends.empty
		}
		if err := p.polls.SavePoll(ctx, wf, poll.Key(), kept); err != nil {
			return out, fmt.Errorf("keeping the cursor: %w", err)
		}
		if end {
			out.recording = false
			return out, nil
		}
		cursor = ans.Cursor
	}
	return out, nil
}

// maxEmptyAnswers is how many answers in a row with no items, each with a cursor that
// moved on, end a poll's first (counted over its polls, kept with its cursor): an API that gives a new cursor with every answer (the
// time it answered, say) has nothing after it, while one that hides some of its items
// (Slack's) answers a page of none now and then, and goes on.
const maxEmptyAnswers = 10

// roundList tells the end of a list that the answers of a poll's first show where its
// cursor does not: an API that answers the same list whatever the cursor, with a
// cursor that moves all the same, or a new cursor and no items for ever. The items
// seen before the poll (recorded by a poll of the workflow that asked for other
// items, or by this one's first before it stopped) do not end it: the list goes on
// until its API says it ends.
type roundList struct {
	read  map[string]bool // the keys of the items of this poll's answers
	empty int             // answers in a row with no items
}

// goesRound reports whether ans, the next answer of a poll's first, ends its list:
// every item of it was in an answer before it in this poll, or it is the
// maxEmptyAnswers-th in a row with no items.
func (r *roundList) goesRound(ans *Answer) bool {
	if len(ans.Items) == 0 {
		r.empty++
		return r.empty >= maxEmptyAnswers
	}
	r.empty = 0
	again := true
	for _, f := range ans.Items {
		again = again && r.read[f.Key]
	}
	for _, f := range ans.Items {
		r.read[f.Key] = true
	}
	return again
}

// timeForOneMore reports whether a poll has time left, after waiting wait, for one
// more request before its bound (pollBound): its timeout and a second to record what
// it read. A first poll that reads a long, slow list stops there, having kept its
// cursor, as one that sent maxRecordRequests does, rather than fail at its bound.
func timeForOneMore(ctx context.Context, poll *Poll, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > wait+poll.Timeout+time.Second
}
