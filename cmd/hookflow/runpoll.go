package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// pollTarget finds the poll trigger NAME names: a workflow's only poll trigger, or
// WORKFLOW/N, its Nth (from 1) when it has several.
func pollTarget(set *workflows.Set, dir, name string) (*workflows.Workflow, *triggers.Poll, error) {
	wfName, nth, hasN := strings.Cut(name, "/")
	wf := set.Workflow(wfName)
	if wf == nil {
		var names []string
		for _, w := range set.Workflows() {
			for _, t := range w.Triggers {
				if _, ok := t.Config.(*triggers.Poll); ok {
					names = append(names, w.Name)
					break
				}
			}
		}
		return nil, nil, usage("there is no workflow %q in %s; the workflows with a poll trigger are: %s", wfName, dir, strings.Join(names, ", "))
	}
	var polls []*triggers.Poll
	for _, t := range wf.Triggers {
		if p, ok := t.Config.(*triggers.Poll); ok {
			polls = append(polls, p)
		}
	}
	switch n, err := strconv.Atoi(nth); {
	case len(polls) == 0:
		return nil, nil, usage("workflow %s has no poll trigger", wf.Name)
	case hasN && (err != nil || n < 1 || n > len(polls)):
		return nil, nil, usage("--poll %s: workflow %s has %d poll trigger%s: name one as %s/1 to %s/%d", name, wf.Name,
			len(polls), plural(len(polls)), wf.Name, wf.Name, len(polls))
	case hasN:
		return wf, polls[n-1], nil
	case len(polls) > 1:
		return nil, nil, usage("--poll %s: workflow %s has %d poll triggers: name one as %s/1 to %s/%d, in file order",
			name, wf.Name, len(polls), wf.Name, wf.Name, len(polls))
	}
	return wf, polls[0], nil
}

// runPoll is hookflow run --poll NAME: one real poll of a poll trigger, showing the
// request sent, the answer and which items are new. The items already seen are read
// from --redis (the Redis a serving hookflow keeps them in) when it is given; else
// every item is new. Nothing is written to that Redis. With --dry-run it starts
// nothing; without, each new item runs the workflow here, as hookflow run does, one
// after the other.
func (o *localRun) runPoll(ctx context.Context, stdout, stderr io.Writer) error {
	if o.asJSON || o.eventFile != "" || len(o.headers) > 0 || len(o.responses) > 0 {
		return usage("--poll makes the events itself, one per new item: it takes none of --event, --header, --response or --json")
	}
	guard := actions.NewGuard(o.allowNet)
	client := actions.NewClient(guard)
	stepLog := slog.New(slog.NewTextHandler(stderr, nil))
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	apis := actions.NewAPIs()
	k := kindsSharing(client, stepLog, apis)
	set, _ := loadWith(o.dir, k, workflows.Options{AllowUnset: true}, stderr)
	if set == nil {
		return exitError(exitFailed)
	}
	wf, poll, err := pollTarget(set, o.dir, o.poll)
	if err != nil {
		return err
	}
	// The poll reads what its trigger does; the runs of its items, what a run reads.
	missing := []hcl.Diagnostics{set.TriggerMissing(wf.Name, slices.IndexFunc(wf.Triggers, func(t *workflows.Trigger) bool { return t.Config == poll }))}
	if !o.dryRun {
		missing = append(missing, set.Missing(wf.Name))
	}
	if !hasAll(o.dir, stderr, missing...) {
		return exitError(exitFailed)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	now := time.Now()
	look := triggers.Look{Now: now}
	var (
		cursor any
		kept   workflows.PollState
		found  bool
	)
	if o.redisURL, err = redisURLOf(o.redisURL, o.redisFile); err != nil {
		return err
	}
	if o.redisURL != "" {
		rdb, _, closeRedis, err := openRedis(ctx, o.redisURL, o.redisTLS, 2, quiet)
		if err != nil {
			return err
		}
		defer closeRedis()
		shards, err := engine.AgreeShards(ctx, rdb, 0)
		if errors.Is(err, engine.ErrDenied) || errors.Is(err, engine.ErrClusterNode) {
			return err
		}
		if err != nil {
			return &unreachableError{err}
		}
		shared := engine.New(rdb, engine.Options{Logger: quiet, Shards: shards})
		if kept, found, err = poll.LastState(ctx, shared, wf); err != nil {
			return fmt.Errorf("reading the poll's cursor from %s: %w", redactedRedisURL(o.redisURL), err)
		}
		cursor = kept.Cursor
		look.Seen = func(ctx context.Context, keys []string) ([]bool, error) { return shared.Seen(ctx, wf, keys) }
	}

	at := now.UTC().Truncate(time.Second).Format(time.RFC3339)
	fmt.Fprintf(stdout, "poll of %s (%s)", wf.Name, poll.Schedule.Text())
	switch {
	case o.redisURL == "":
		fmt.Fprintf(stdout, ", no --redis: no cursor, and every item counts as new\n")
	case found:
		fmt.Fprintf(stdout, ", cursor from Redis: %s\n", oneLine(wf.Secrets.String(workflows.Text(cursor)), 80))
	default:
		fmt.Fprintf(stdout, ", never polled in this Redis: no cursor\n")
	}
	ans, err := poll.Fetch(ctx, wf, cursor, at, look)
	if ans != nil {
		for i, sent := range ans.Sent { // a request a page
			// The answer that failed the poll is shown whole: it says why.
			printPollRequest(stdout, sent, err != nil && i == len(ans.Sent)-1)
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "the poll fails: %s\nit starts nothing; a serving hookflow retries it, backing off\n", wf.Secrets.String(err.Error()))
		return exitError(exitFailed)
	}
	var fresh []int
	cut, filtered := 0, 0
	for i, f := range ans.Items {
		mark, why := "new ", ""
		switch f.Status {
		case triggers.ItemSeen:
			mark = "seen"
		case triggers.ItemCut:
			mark, cut = "cut ", cut+1
		default:
			fresh = append(fresh, i)
			if !o.noFilter && filteredOut(wf, poll, f, at) {
				why, filtered = " (the filter is false for it: no run, and it stays new)", filtered+1
			}
		}
		fmt.Fprintf(stdout, "  %s %s%s\n", mark, wf.Secrets.String(strings.TrimPrefix(f.Key, "poll:")), why)
	}
	if poll.Cursor != nil {
		next, kept := ans.Cursor, ""
		switch {
		case ans.Cut != "":
			next, kept = cursor, " (the one it had: the list is cut)"
		case ans.CursorKept && next != nil:
			kept = " (the one it had: the answer gives none, nothing new)"
		}
		shown := "none"
		if next != nil {
			shown = oneLine(wf.Secrets.String(workflows.Text(next)), 80)
		}
		fmt.Fprintf(stdout, "next cursor: %s%s\n", shown, kept)
	}
	fmt.Fprintf(stdout, "%d item%s, %d new", len(ans.Items), plural(len(ans.Items)), len(fresh))
	if filtered > 0 {
		fmt.Fprintf(stdout, " (%d of them filtered)", filtered)
	}
	if cut > 0 {
		fmt.Fprintf(stdout, ", %d cut", cut)
	}
	fmt.Fprintln(stdout)
	switch ans.Cut {
	case triggers.CutMaxItems:
		fmt.Fprintf(stdout, "cut at max_items = %d: the new items after them are left for the next polls, which ask again "+
			"with the cursor kept until they have started\n", poll.MaxItems)
	case triggers.CutMaxPages:
		fmt.Fprintln(stdout, "cut at max_pages: the pages after them are not read, and the next poll asks again with the cursor kept")
	}
	switch {
	case o.redisURL == "" || poll.Backfill:
	case !found:
		fmt.Fprintln(stdout, "this is the poll's first in this Redis: with backfill = false, a serving hookflow would record these items and start nothing")
	case kept.Recording:
		fmt.Fprintln(stdout, "the poll's first has not read its list to the end yet: with backfill = false, a serving hookflow would go on "+
			"recording these items and start nothing")
	}
	if o.dryRun || len(fresh) == 0 {
		if o.dryRun {
			fmt.Fprintln(stdout, "dry run: no run started, nothing recorded")
		}
		return nil
	}
	return o.runItems(ctx, set, k, apis, wf, poll, ans, fresh, at, stdout, stderr, quiet)
}

// filteredOut reports whether the workflow's filter is false for a new item: a serving
// hookflow starts no run for it, and does not remember it (it is new at every poll).
// A filter that fails on the item is not false: runItems says how it fails.
func filteredOut(wf *workflows.Workflow, poll *triggers.Poll, item triggers.Found, at string) bool {
	if wf.Filter == nil {
		return false
	}
	ev, err := poll.ItemEvent(item.Value, at, item.Page, time.Now())
	if err != nil {
		return false
	}
	ok, err := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
	return err == nil && !ok
}

// runItems runs the workflow here for each new item, one after the other, printing
// each run as hookflow run does (and its retries to progress); the workflow's filter
// applies unless --no-filter.
func (o *localRun) runItems(ctx context.Context, set *workflows.Set, k *workflows.Kinds, apis *actions.APIs,
	wf *workflows.Workflow, poll *triggers.Poll, ans *triggers.Answer, fresh []int, at string, out, progress io.Writer, quiet *slog.Logger) error {
	eng, rdb, stop, err := localEngine(ctx, set, k, quiet, engine.Options{})
	if err != nil {
		return err
	}
	defer stop()
	apis.Connect(rdb)
	failed := 0
	for _, i := range fresh {
		key := wf.Secrets.String(strings.TrimPrefix(ans.Items[i].Key, "poll:"))
		ev, err := poll.ItemEvent(ans.Items[i].Value, at, ans.Items[i].Page, time.Now())
		if err != nil {
			return fmt.Errorf("item %s: %w", key, err)
		}
		if wf.Filter != nil && !o.noFilter {
			ok, err := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
			switch {
			case err != nil:
				fmt.Fprintf(out, "\nitem %s: the filter fails on it: %s\n", key, wf.Secrets.PlusCredentials(ev.Value()).String(err.Error()))
				failed++
				continue
			case !ok:
				fmt.Fprintf(out, "\nitem %s: filtered: the filter of %s is false for it, so it starts no run\n", key, wf.Name)
				continue
			}
		}
		runID, err := eng.Start(ctx, wf, ev)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nitem %s: run %s of %s (poll event)\n", key, runID, wf.Name)
		run, err := follow(ctx, eng, runID, out, progress, nil)
		if err != nil {
			return fmt.Errorf("run %s: %w", runID, err)
		}
		printRunEnd(out, run, false)
		if run.Status != "succeeded" {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(out, "\n%d of %d new item%s failed\n", failed, len(fresh), plural(len(fresh)))
		return exitError(exitFailed)
	}
	return nil
}

// printPollRequest shows the poll's request as sent, redacted, and its answer; with
// body, the answer's body too (redacted, as recorded), cut as a run's bodies are.
func printPollRequest(w io.Writer, r *workflows.Request, body bool) {
	fmt.Fprintf(w, "  → %s %s\n", r.Method, r.URL)
	var b strings.Builder
	for _, name := range sortedNames(r.Headers) {
		fmt.Fprintf(&b, "    %s: %s\n", name, r.Headers[name])
	}
	io.WriteString(w, b.String())
	switch {
	case r.Error != "":
		fmt.Fprintf(w, "  ← %s\n", r.Error)
	case r.Status != 0:
		fmt.Fprintf(w, "  ← %d in %s\n", r.Status, millis(&r.DurationMS))
	}
	if !body || r.Response == nil || r.Response.Body == "" {
		return
	}
	lines := strings.Split(strings.TrimRight(r.Response.Body, "\n"), "\n")
	if len(lines) > maxOutputLines {
		more := len(lines) - maxOutputLines
		lines = append(lines[:maxOutputLines], fmt.Sprintf("… %d more line%s", more, plural(more)))
	}
	for _, line := range lines {
		fmt.Fprintf(w, "    %s\n", cutLine(line, maxLineWidth, ""))
	}
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
