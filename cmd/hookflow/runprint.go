package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/runes"
	"github.com/hookflow/hookflow/workflows"
)

// maxOutputLines is how much of a value the step-by-step view prints; --json prints
// all of it.
const maxOutputLines = 40

// jsonShowsAll follows what the step-by-step view cuts short (a value, a body, a for_each
// step's items), after how much is left out, in a command that has --json: the
// view's functions take it as all, "" in one that has not (hookflow test, whose
// runs are gone once it ends).
const jsonShowsAll = " (--json shows all)"

// printRun prints a run for people: what started it, then each step. withEvent adds
// the event's body.
func printRun(w io.Writer, run *engine.Run, withEvent bool) {
	fmt.Fprintf(w, "run %s of %s, version %s", run.ID, run.Workflow, run.Version)
	if run.StartedVersion != "" {
		fmt.Fprintf(w, " (started with version %s)", run.StartedVersion)
	}
	fmt.Fprintln(w)
	if ev := run.Event; ev != nil {
		fmt.Fprintf(w, "event %s: %s", ev.ID, ev.Trigger)
		if ev.Method != "" {
			fmt.Fprintf(w, " %s %s", ev.Method, ev.Path)
		}
		fmt.Fprintf(w, ", received %s\n", ev.ReceivedAt.Local().Format(time.DateTime))
		if withEvent && ev.Body != nil {
			printValue(w, "  body: ", ev.Body, jsonShowsAll)
		}
	}
	sent := recordedRequests(run, jsonShowsAll)
	for i := range run.Steps {
		printStep(w, i+1, &run.Steps[i], run.Version, func(key string) string { return sent[key] }, jsonShowsAll)
	}
	printRunEnd(w, run, true)
}

// maxLineWidth is how many characters of one line of a body or a value the
// step-by-step view prints.
const maxLineWidth = 200

// maxTextWidth is the most characters runs show prints of a line of an error, a
// request's URL or a header's value: more than a value's line, as such a line is
// read whole, but not a megabyte of it.
const maxTextWidth = 2000

// maxItemLines is how many items of a for_each step the step-by-step view prints.
const maxItemLines = 20

// printStep prints one step: "2. mark_paid (http) succeeded in 41ms", then requests
// (what it sent, or what a dry run would have sent, by sentKey), then its error or
// output. A step of a
// parallel block is named by its path (notify/slack); a for_each step is followed by
// its items (reserve[2]), each on a line with its own requests and error. A step or an
// item that ran with another version than runVersion says which. What is cut short
// says how much, then all (see jsonShowsAll).
func printStep(w io.Writer, n int, s *engine.StepRun, runVersion string, sent func(key string) string, all string) {
	line := fmt.Sprintf("  %d. %s", n, s.Path)
	if s.Kind != "" {
		line += " (" + s.Kind + ")"
	}
	line += " " + stepLine(s) + versionNote(s, runVersion)
	if s.ItemCount > 0 || s.Items != nil {
		line += fmt.Sprintf(", %d item%s", s.ItemCount, plural(s.ItemCount))
	}
	fmt.Fprintln(w, line)
	io.WriteString(w, sent(s.Name))
	if s.Error != "" {
		printError(w, "     error: ", s.Error, all)
	}
	if s.Output != nil {
		printValue(w, "     output: ", s.Output, all)
	}
	for i := range s.Items {
		if i == maxItemLines {
			fmt.Fprintf(w, "     … %d more item%s%s\n", len(s.Items)-i, plural(len(s.Items)-i), all)
			break
		}
		it := &s.Items[i]
		fmt.Fprintf(w, "     %s %s%s\n", it.Path, stepLine(it), versionNote(it, runVersion))
		io.WriteString(w, sent(fmt.Sprintf("%s[%v]", it.Name, it.Key)))
		if it.Error != "" {
			printError(w, "       error: ", it.Error, all)
		}
	}
}

// versionNote names the version a step ran with when it is not the run's.
func versionNote(s *engine.StepRun, runVersion string) string {
	if runVersion == "" || s.Version == "" || s.Version == runVersion {
		return ""
	}
	return " with version " + s.Version
}

// stepLine is a step's status, duration and attempts: "succeeded in 41ms after 2
// attempts", its duration from its first attempt's start to its last's end (the
// engine's StepRun, as the inspector shows it). A step to be tried again says how many attempts it had, what the last
// one took and when the next one is: "retrying: 4 attempts so far, the last took 1ms;
// next attempt at 02:36:45".
func stepLine(s *engine.StepRun) string {
	line := string(s.Status)
	switch {
	case s.Kind == "wait" && s.Status == engine.StatusWaiting:
		// Its job is parked until it is resumed, or it times out.
		if s.NextAttemptAt != nil {
			line += ", times out " + s.NextAttemptAt.Local().Format(time.DateTime)
		}
		return line
	case s.Kind == "workflow" && s.Status == engine.StatusWaiting:
		// Its job is parked until its child run ends, which wakes it. It looks at the
		// child meanwhile, now and then, and parks again: those times, which an older
		// admin API sends as its next_attempt_at, are not when it goes on.
		if out, _ := s.Output.(map[string]any); out["run_id"] != nil {
			return line + fmt.Sprintf(" for child run %v", out["run_id"])
		}
		return line + " for its child run"
	case s.Status == engine.StatusRetrying:
		line += fmt.Sprintf(": %d attempt%s so far", s.Attempts, plural(s.Attempts))
		if s.DurationMS != nil && s.FinishedAt != nil {
			which := ", the last took "
			if s.Attempts == 1 {
				which = ", which took "
			}
			line += which + millis(s.DurationMS)
		}
		if s.NextAttemptAt != nil {
			line += "; next attempt at " + timeOfDay(*s.NextAttemptAt, time.Now())
		}
		return line
	case s.Status == engine.StatusWaiting:
		// A delay in an item or a step of a parallel block: it goes on by itself.
		if s.NextAttemptAt != nil {
			line += " until " + timeOfDay(*s.NextAttemptAt, time.Now())
		}
		return line
	}
	if s.Kind == "wait" {
		// Its duration is the wait, from its park to its resume or timeout. Its job is
		// leased again when it is resumed: those are not attempts.
		if s.DurationMS != nil && s.Status == engine.StatusSucceeded && s.FinishedAt != nil {
			how := ", resumed after "
			if out, _ := s.Output.(map[string]any); out["timed_out"] == true {
				how = ", timed out after "
			}
			line += how + millis(s.DurationMS)
		} else if s.DurationMS != nil && s.Status == engine.StatusFailed && s.FinishedAt != nil {
			line += " after " + millis(s.DurationMS)
		}
		return line
	}
	if ms, skipped, ok := s.Delay(); ok { // the step itself takes no time: it holds the run
		if skipped {
			return line + ", " + millis(&ms) + " not waited (a dry run waits for nothing)"
		}
		// Its time is how long it held the run, to when the run went on: longer than
		// its delay when no process ran the run at its end. (An older admin API gives
		// it no time: its delay, then.)
		if s.DurationMS != nil && *s.DurationMS > ms {
			ms = *s.DurationMS
		}
		return line + ", held the run " + millis(&ms)
	}
	if s.DurationMS != nil && s.Status != engine.StatusSkipped && s.FinishedAt != nil {
		line += " in " + millis(s.DurationMS)
	}
	// A workflow step's job is leased again when its child ends, or to look for its
	// end: those are not attempts either.
	if s.Attempts > 1 && s.Kind != "workflow" {
		line += fmt.Sprintf(" after %d attempts", s.Attempts)
	}
	return line
}

// timeOfDay is a time to come as a step's line shows it: the local time of day when it is
// today, else the date too.
func timeOfDay(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateTime)
}

// recordedRequests are the requests each step and item of a run sent, as printStep
// prints them: by step name, and by step[key] for an item. A long body says how much
// is left out, then all (see jsonShowsAll).
func recordedRequests(run *engine.Run, all string) map[string]string {
	out := map[string]string{}
	for _, s := range run.Steps {
		if len(s.Requests) > 0 {
			out[s.Name] = requestLines(s.Requests, all)
		}
		for _, it := range s.Items {
			if len(it.Requests) > 0 {
				out[fmt.Sprintf("%s[%v]", it.Name, it.Key)] = requestLines(it.Requests, all)
			}
		}
	}
	return out
}

// requestLines prints requests one after the other: the request line (with its
// attempt when there were several), its headers and body, then what came back. An
// attempt whose worker stopped while it ran is one line: what it sent is not known.
//
//	→ attempt 1 lost: its worker stopped while it ran (…); the request may have been sent
//	→ attempt 2: POST https://api.example.com/orders
//	  Content-Type: application/json
//	  {"id":7}
//	  ← 503 Service Unavailable in 12ms: {"busy":true}
func requestLines(reqs []workflows.Request, all string) string {
	var b strings.Builder
	for _, q := range reqs {
		if q.Lost {
			fmt.Fprintf(&b, "     → attempt %d lost: %s\n", q.Attempt, cutLine(q.Error, maxTextWidth, all))
			continue
		}
		fmt.Fprintf(&b, "     → %s%s %s\n", attemptLabel(len(reqs), q.Attempt), q.Method, cutLine(q.URL, maxTextWidth, all))
		names := make([]string, 0, len(q.Headers))
		for name := range q.Headers {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(&b, "       %s: %s\n", name, cutLine(q.Headers[name], maxTextWidth, all))
		}
		if q.Body != "" {
			lines := strings.Split(strings.TrimRight(q.Body, "\n"), "\n")
			if len(lines) > maxOutputLines {
				more := len(lines) - maxOutputLines
				lines = append(lines[:maxOutputLines], fmt.Sprintf("… %d more line%s%s", more, plural(more), all))
			}
			for _, line := range lines {
				fmt.Fprintf(&b, "       %s\n", cutLine(line, maxLineWidth, all))
			}
		}
		answer := strings.TrimSpace(fmt.Sprintf("%d %s", q.Status, http.StatusText(q.Status)))
		switch {
		case q.Status == 0:
			fmt.Fprintf(&b, "       ← no answer in %dms: %s\n", q.DurationMS, cutLine(q.Error, maxTextWidth, all))
		case q.Response != nil && q.Response.Body != "":
			fmt.Fprintf(&b, "       ← %s in %dms: %s\n", answer, q.DurationMS, oneLine(q.Response.Body, maxLineWidth))
		default:
			fmt.Fprintf(&b, "       ← %s in %dms\n", answer, q.DurationMS)
		}
	}
	return b.String()
}

// printRunEnd prints how the run ended; kept says it stays in a Redis to be replayed.
func printRunEnd(w io.Writer, run *engine.Run, kept bool) {
	line := "run " + string(run.Status)
	if run.DurationMS != nil {
		line += " in " + millis(run.DurationMS)
	}
	if run.Replays > 0 {
		line += fmt.Sprintf(", replayed %d time%s", run.Replays, plural(run.Replays))
	}
	fmt.Fprintln(w, line)
	if run.Error != "" {
		all := "" // runs show says --json shows all; run and test print no such flag here
		if kept {
			all = jsonShowsAll
		}
		printError(w, "  error: ", run.Error, all)
	}
	if run.DeadLetter != "" && kept {
		if len(run.CallsGone) > 0 {
			// Its replay would fail again at the step whose child cannot start.
			what := "workflow " + run.CallsGone[0] + ", which is not among the workflows in use now: restore it"
			if len(run.CallsGone) > 1 {
				what = "workflows " + strings.Join(run.CallsGone, ", ") + ", which are not among the workflows in use now: restore them"
			}
			fmt.Fprintf(w, "  dead letter %s: the run calls %s, then replay the run with: hookflow runs replay %s\n",
				run.DeadLetter, what, run.ID)
		} else {
			fmt.Fprintf(w, "  dead letter %s: replay it with: hookflow runs replay %s\n", run.DeadLetter, run.ID)
		}
		switch {
		case len(run.CurrentLacks) > 0:
			fmt.Fprintf(w, "  the workflow changed since this run started: version %s, in use now, has no %s, which failed it; a replay runs the run's version, %s\n",
				run.CurrentVersion, engine.StepsNamed(run.CurrentLacks), run.Version)
		case run.CurrentVersion != "":
			fmt.Fprintf(w, "  the workflow changed since this run started (version %s is in use); replay with --current to run it: hookflow runs replay --current %s\n",
				run.CurrentVersion, run.ID)
		}
	}
}

// printError prints an error after prefix, the lines after its first (an
// expression's, with a caret under the place it failed) indented as far as the first
// line's text, so that they read as part of the step or run they are under. A line is
// cut after maxTextWidth characters, then all (see jsonShowsAll).
func printError(w io.Writer, prefix, err, all string) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	lines := strings.Split(strings.TrimRight(err, "\n"), "\n")
	fmt.Fprintf(w, "%s%s\n", prefix, cutLine(lines[0], maxTextWidth, all))
	for _, line := range lines[1:] {
		fmt.Fprintf(w, "%s%s\n", indent, cutLine(line, maxTextWidth, all))
	}
}

// printValue prints v as indented JSON after prefix, cut at maxOutputLines lines of
// maxLineWidth characters: what is left out says how much, then all (see
// jsonShowsAll).
func printValue(w io.Writer, prefix string, v any, all string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // <, > and & as they are: this is for reading
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(w, "%s%s\n", prefix, cutLine(fmt.Sprint(v), maxLineWidth, all))
		return
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) > maxOutputLines {
		more := len(lines) - maxOutputLines
		lines = append(lines[:maxOutputLines], fmt.Sprintf("… %d more line%s%s", more, plural(more), all))
	}
	for i, line := range lines {
		lines[i] = cutLine(line, maxLineWidth, all)
	}
	indent := "\n" + strings.Repeat(" ", len(prefix))
	fmt.Fprintf(w, "%s%s\n", prefix, strings.Join(lines, indent))
}

// cutLine is line cut after width characters (runes: a UTF-8 sequence is never
// split), then how many it left out and all (see jsonShowsAll): "{"note": "aaa… 2999812
// more characters (--json shows all)".
func cutLine(line string, width int, all string) string {
	end, more := runes.Cut(line, width)
	if more == 0 {
		return line
	}
	return fmt.Sprintf("%s… %d more character%s%s", line[:end], more, plural(more), all)
}

// attemptLabel is what a request line says of its attempt, among n requests of a
// step: nothing for a step's only request, sent at its first attempt.
func attemptLabel(n, attempt int) string {
	if n > 1 || attempt > 1 {
		return fmt.Sprintf("attempt %d: ", attempt)
	}
	return ""
}
