package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// DeadLetter is a job that failed its run after its last attempt.
type DeadLetter struct {
	ID       string `json:"id"`
	Run      string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
	// Attempts are the job's; for the join of a for_each step or a parallel block,
	// which runs once when its items or steps have settled, those of Failed.
	Attempts int `json:"attempts"`
	// Failed names, for the join of a for_each step or a parallel block, the item or
	// the step of the block that failed it (the first, as Error names it) as runs show
	// it: reserve[2], notify/crm.
	Failed string    `json:"failed,omitempty"`
	Error  string    `json:"error"`
	DeadAt time.Time `json:"dead_at"`
	join   bool
	// jobAttempts are the job's own, which Attempts are of a join until what failed
	// it is read.
	jobAttempts int
}

// DeadLetterFilter selects a page of dead letters.
type DeadLetterFilter struct {
	Limit int // default 50, at most 500
	// Cursor continues a listing where the previous page ended (DeadLetterPage.Next).
	Cursor string
	// Run lists the dead letters of this run alone, read from the run (no listing is
	// scanned): the one that failed it, and any of an earlier failure its on_failure
	// steps answered; none for a run that has none, or does not exist. Limit and
	// Cursor do not apply: a run has a few dead letters at most, on one page.
	Run string
}

// DeadLetterPage is one page of dead letters, newest first. Next is the cursor of the
// next page, "" when there is none.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	Next        string       `json:"next,omitempty"`
}

// DeadLetters lists dead letters, newest first, a page at a time: they are ordered as
// runs are, by when they died (ms), then id. A page has a Next only when a dead letter
// follows it: a full page holding the last ones has none (past maxScan entries read,
// a page comes back with a Next, which may lead to an empty page).
func (e *Engine) DeadLetters(ctx context.Context, f DeadLetterFilter) (*DeadLetterPage, error) {
	if f.Run != "" {
		dead, err := e.deadLettersOf(ctx, f.Run)
		if err != nil {
			return nil, err
		}
		slices.Reverse(dead) // newest first
		return e.joinFailures(ctx, &DeadLetterPage{DeadLetters: append([]DeadLetter{}, dead...)})
	}
	switch {
	case f.Limit <= 0:
		f.Limit = defaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	at := cursor{ms: 1 << 62, id: "~"} // after every dead letter
	if f.Cursor != "" {
		var err error
		if at, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
	}
	indexes := make([]runIndex, len(e.q.shards))
	for i, sh := range e.q.shards {
		indexes[i] = runIndex{sh.dead(), sh}
	}
	page := &DeadLetterPage{DeadLetters: []DeadLetter{}}
	for scanned := 0; ; {
		if scanned >= maxScan {
			page.Next = at.String()
			return e.joinFailures(ctx, page)
		}
		// First one more than the page needs: a dead letter past a full page says a
		// next page has one. An entry that is no dead letter now (its run replayed, its
		// job gone) is passed over, and the next read goes on after it, scanBatch at a
		// time: entries gone lie together, past the live ones, until trimmed.
		n := scanBatch
		if scanned == 0 {
			n = min(scanBatch, f.Limit+1)
		}
		batch, err := e.q.runsBefore(ctx, indexes, at, n)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return e.joinFailures(ctx, page)
		}
		pipe := e.q.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(batch))
		for i, c := range batch {
			cmds[i] = pipe.HGetAll(ctx, c.sh.job(c.id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		for i, c := range cmds {
			d, ok := deadLetter(batch[i].id, c.Val())
			if ok && len(page.DeadLetters) == f.Limit {
				page.Next = at.String() // the page is full, and a dead letter follows it
				return e.joinFailures(ctx, page)
			}
			scanned++
			at = batch[i]
			if ok {
				page.DeadLetters = append(page.DeadLetters, d)
			}
		}
	}
}

// joinFailures sets, for each dead letter of a join in the page, what failed it.
func (e *Engine) joinFailures(ctx context.Context, page *DeadLetterPage) (*DeadLetterPage, error) {
	for i := range page.DeadLetters {
		if d := &page.DeadLetters[i]; d.join {
			// What cannot be read leaves the dead letter as its job has it: a listing
			// does not fail for the detail.
			if err := e.joinFailure(ctx, d); err != nil {
				d.Failed, d.Attempts = "", d.jobAttempts
			}
		}
	}
	return page, nil
}

func deadLetter(id string, job map[string]string) (DeadLetter, bool) {
	if job["dead"] == "" {
		return DeadLetter{}, false // replayed or expired meanwhile
	}
	attempts, _ := strconv.Atoi(job["attempt"])
	return DeadLetter{ID: id, Run: job["run"], Workflow: job["wf"], Step: job["step"],
		Attempts: attempts, Error: job["error"], DeadAt: msTime(job["dead"]), join: job["part"] == "join", jobAttempts: attempts}, true
}

// joinFailure sets Failed and Attempts of the dead letter of a join from its run's
// records: the first item of its for_each step that failed, or the first step of its
// parallel block that failed it (and, for a for_each step, its first failed item), as
// the planner names them in the error. Where the records or the run's version cannot
// be read any more, d stays as its job has it.
func (e *Engine) joinFailure(ctx context.Context, d *DeadLetter) error {
	sh := e.q.shardFor(d.Workflow)
	item := func(step, path string) (bool, error) {
		set, err := e.q.readItems(ctx, sh, d.Run, step)
		if err != nil || set == nil {
			return false, err
		}
		for i := range set.n {
			if r := set.records[i]; r != nil && r.Status == StatusFailed {
				d.Failed, d.Attempts = fmt.Sprintf("%s[%v]", path, set.key(i)), r.Attempt
				return true, nil
			}
		}
		return false, nil
	}
	if found, err := item(d.Step, d.Step); found || err != nil {
		return err
	}
	ver, err := e.q.rdb.HGet(ctx, sh.run(d.Run), "ver").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	} else if err != nil {
		return err
	}
	wf, err := e.versions.view(ctx, d.Workflow, ver)
	if retry, _ := workflows.Retryable(err); err != nil && retry {
		return err
	}
	var block *workflows.Node
	if wf != nil {
		block = wf.Node(d.Step)
	}
	if block == nil || !block.Parallel {
		return nil
	}
	fields := make([]string, len(block.Steps))
	for i, s := range block.Steps {
		fields[i] = recordPrefix + s.Name
	}
	vals, err := e.q.rdb.HMGet(ctx, sh.run(d.Run), fields...).Result()
	if err != nil {
		return err
	}
	for i, s := range block.Steps {
		data, _ := vals[i].(string)
		r, err := decodeRecord(data)
		if data == "" || err != nil || !failsRun(s, r) {
			continue
		}
		path := block.Name + "/" + s.Name
		if s.ForEach != nil {
			if found, err := item(s.Name, path); found || err != nil {
				return err
			}
			// failed before an item did: listing them
		}
		d.Failed, d.Attempts = path, r.Attempt
		return nil
	}
	return nil
}

// NoDeadLetterError is the ErrNotFound of RetryDeadLetter: id is no dead letter now.
// Run names the dead letters its run has, when id names a run that has some: the id
// of a for_each step's or a parallel block's is RUN:STEP:join, not RUN:STEP.
type NoDeadLetterError struct {
	ID  string
	Run []DeadLetter
}

func (e *NoDeadLetterError) Error() string {
	if len(e.Run) == 0 {
		return "no dead letter " + e.ID
	}
	ids := make([]string, len(e.Run))
	for i, d := range e.Run {
		ids[i] = d.ID + " (step " + d.Step + ")"
	}
	what := "dead letter "
	if len(ids) > 1 {
		what = "dead letters "
	}
	return "no dead letter " + e.ID + "; run " + e.Run[0].Run + " has " + what + strings.Join(ids, ", ")
}

func (e *NoDeadLetterError) Unwrap() error { return ErrNotFound }

// RetryDeadLetter replays the run of a dead letter from its step, as Replay does. id
// is a dead letter's id, or RUN:STEP when the run has one dead letter of STEP, such
// as the join of a for_each step or a parallel block (RUN:STEP:join). Otherwise it
// returns a *NoDeadLetterError, with the dead letters of the run id names.
func (e *Engine) RetryDeadLetter(ctx context.Context, id string, o ReplayOptions) (*Replayed, error) {
	for _, sh := range e.q.shards {
		job, err := e.q.rdb.HGetAll(ctx, sh.job(id)).Result()
		if err != nil {
			return nil, err
		}
		if d, ok := deadLetter(id, job); ok {
			return e.Replay(ctx, d.Run, o)
		}
	}
	run, step, _ := strings.Cut(id, ":")
	dead, err := e.deadLettersOf(ctx, run)
	if err != nil {
		return nil, err
	}
	var ofStep []DeadLetter
	for _, d := range dead {
		if d.Step == step {
			ofStep = append(ofStep, d)
		}
	}
	if len(ofStep) == 1 && step != "" {
		return e.Replay(ctx, run, o)
	}
	return nil, &NoDeadLetterError{ID: id, Run: dead}
}

// deadLettersOf lists the dead letters run has now, in the order they came: the one
// that failed it, after those of earlier failures (lib.lua's dead_letter). None for a
// run that does not exist.
func (e *Engine) deadLettersOf(ctx context.Context, run string) ([]DeadLetter, error) {
	if run == "" {
		return nil, nil
	}
	fields, err := e.q.runFields(ctx, run)
	if err != nil || fields == nil {
		return nil, err
	}
	ids := strings.Fields(fields["dead_before"])
	if fields["dead"] != "" {
		ids = append(ids, fields["dead"])
	}
	sh := e.q.shardFor(fields["wf"])
	var out []DeadLetter
	for _, id := range ids {
		job, err := e.q.rdb.HGetAll(ctx, sh.job(id)).Result()
		if err != nil {
			return nil, err
		}
		if d, ok := deadLetter(id, job); ok {
			out = append(out, d)
		}
	}
	return out, nil
}
