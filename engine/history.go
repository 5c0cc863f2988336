package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RunFilter selects runs from the history. Zero values select everything.
type RunFilter struct {
	Workflow string
	Status   string // queued, running, waiting, succeeded, failed or cancelled
	Limit    int    // default 50, at most 500
	// Cursor continues a listing where the previous page ended (RunPage.Next).
	Cursor string
	// Text keeps the runs whose event (as the history shows it, credentials redacted,
	// and resume tokens' signatures) contains it, in any case. Such a listing reads at
	// most maxTextScan runs.
	Text string
}

// RunPage is one page of a run listing, newest first. Next is the cursor of the next
// page, "" when there is none.
type RunPage struct {
	Runs []RunSummary `json:"runs"`
	Next string       `json:"next,omitempty"`
	// Read is how many runs the listing read for the page: past its bound (a status
	// or a text filter), a page comes back short, even empty, with a Next to go on.
	Read int `json:"-"`
}

// Statuses are the statuses a run can have.
var Statuses = []string{string(RunQueued), string(RunRunning), string(RunWaiting), string(RunSucceeded), string(RunFailed), string(RunCancelled)}

// ErrBadFilter is returned for a filter or cursor that makes no sense.
var ErrBadFilter = errors.New("bad filter")

// MaxLimit is the most runs or dead letters a page of them holds.
const MaxLimit = 500

const (
	defaultLimit = 50
	scanBatch    = 200
	// maxScan bounds how many runs one listing reads looking for matches of a status;
	// past it, the page is returned short with a cursor to go on.
	maxScan = 5000
	// maxTextScan bounds how many runs a listing by event text reads: each event is
	// read and searched. Past it, the page is returned short with a cursor to go on.
	maxTextScan = 1000
)

// cursor is a position in the history: runs are ordered by creation time (ms), then id.
type cursor struct {
	ms int64
	id string
	sh *shard // where the run is; not part of the cursor's text
}

func (c cursor) String() string { return strconv.FormatInt(c.ms, 10) + "-" + c.id }

func parseCursor(s string) (cursor, error) {
	ms, id, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return cursor{}, fmt.Errorf("%w: cursor %q is not one a listing returned", ErrBadFilter, s)
	}
	return cursor{ms: n, id: id}, nil
}

// before reports whether a run at (ms, id) comes after c in the listing, newest first.
func (c cursor) before(ms int64, id string) bool {
	return ms < c.ms || ms == c.ms && id < c.id
}

// Runs lists runs, newest first, from the history kept for the retention period.
func (e *Engine) Runs(ctx context.Context, f RunFilter) (*RunPage, error) {
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		return nil, fmt.Errorf("%w: status %q: use one of %s", ErrBadFilter, f.Status, strings.Join(Statuses, ", "))
	}
	switch {
	case f.Limit <= 0:
		f.Limit = defaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	at := cursor{ms: 1 << 62, id: "~"} // after every run
	if f.Cursor != "" {
		var err error
		if at, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	var indexes []runIndex
	if f.Workflow != "" {
		sh := e.q.shardFor(f.Workflow)
		indexes = []runIndex{{sh.runsOf(f.Workflow), sh}}
	} else {
		for _, sh := range e.q.shards {
			indexes = append(indexes, runIndex{sh.runs(), sh})
		}
	}
	page := &RunPage{Runs: []RunSummary{}}
	scan := maxScan
	if f.Text != "" {
		scan = maxTextScan
	}
	for {
		if page.Read >= scan {
			page.Next = at.String()
			return page, nil
		}
		batch, err := e.q.runsBefore(ctx, indexes, at, scanBatch)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return page, nil
		}
		runs, err := e.q.summaries(ctx, batch)
		if err != nil {
			return nil, err
		}
		var events []string
		if f.Text != "" {
			if events, err = e.q.eventTexts(ctx, batch, e.versions.secrets()); err != nil {
				return nil, err
			}
		}
		match := func(i int) bool {
			r := runs[i]
			if r == nil || f.Status != "" && string(r.Status) != f.Status {
				return false // expired, or another status
			}
			// Matched without its resume tokens: a reader, who is shown none, could
			// otherwise tell one from the runs a guess at it finds. Only an event that
			// matches as it is is redacted to be matched again.
			return f.Text == "" || containsFold(events[i], f.Text) &&
				containsFold(string(e.RedactTokens(ctx, []byte(events[i]))), f.Text)
		}
		for i := range runs {
			page.Read++
			at = batch[i]
			if !match(i) {
				continue
			}
			page.Runs = append(page.Runs, *runs[i])
			if len(page.Runs) < f.Limit {
				continue
			}
			// The page is full. A batch shorter than asked held the last runs there
			// are: the rest of it, read already, says whether a next page would have
			// any. After a full batch that is not known without reading on, which
			// the next page does: it may be empty.
			more := len(batch) == scanBatch
			for k := i + 1; k < len(runs) && !more; k++ {
				more = match(k)
			}
			if more {
				page.Next = at.String()
			}
			return page, nil
		}
	}
}

// runIndex is a sorted set of runs by creation time, in a shard.
type runIndex struct {
	key string
	sh  *shard
}

// runsBefore returns up to n runs of the indexes that come after at, newest first.
func (q *queue) runsBefore(ctx context.Context, indexes []runIndex, at cursor, n int) ([]cursor, error) {
	var all []cursor
	for _, ix := range indexes {
		key := ix.key
		// The runs created in the cursor's millisecond, then those before it.
		same, err := q.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
			Min: strconv.FormatInt(at.ms, 10), Max: strconv.FormatInt(at.ms, 10)}).Result()
		if err != nil {
			return nil, err
		}
		older, err := q.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
			Max: "(" + strconv.FormatInt(at.ms, 10), Min: "-inf", Count: int64(n)}).Result()
		if err != nil {
			return nil, err
		}
		for _, z := range append(same, older...) {
			id, _ := z.Member.(string)
			if c := (cursor{int64(z.Score), id, ix.sh}); at.before(c.ms, c.id) {
				all = append(all, c)
			}
		}
	}
	slices.SortFunc(all, func(a, b cursor) int {
		if a.ms != b.ms {
			return cmp.Compare(b.ms, a.ms)
		}
		return strings.Compare(b.id, a.id)
	})
	return all[:min(n, len(all))], nil
}

// summaries reads the runs' summaries in one round trip; an expired run is nil.
func (q *queue) summaries(ctx context.Context, runs []cursor) ([]*RunSummary, error) {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(runs))
	for i, c := range runs {
		cmds[i] = pipe.HMGet(ctx, c.sh.run(c.id), summaryFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]*RunSummary, len(runs))
	for i, c := range cmds {
		vals := c.Val()
		fields := make(map[string]string, len(summaryFields))
		for j, name := range summaryFields {
			if s, ok := vals[j].(string); ok {
				fields[name] = s
			}
		}
		if fields["status"] == "" {
			continue
		}
		r := summary(fields)
		out[i] = &r
	}
	return out, nil
}
