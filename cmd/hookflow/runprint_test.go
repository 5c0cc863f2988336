package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// A step's line says what its status means: a retrying step's duration is its last
// attempt's, not the wait before the next one; a wait step's is the wait.
func TestStepLine(t *testing.T) {
	next := time.Now().Add(time.Minute)
	finished := time.Now().Add(-time.Second)
	ms := func(n int64) *int64 { return &n }
	at := timeOfDay(next, time.Now())
	for _, c := range []struct {
		name string
		step engine.StepRun
		want string
	}{
		{"retrying", engine.StepRun{Kind: "http", Status: engine.StatusRetrying, Attempts: 4, DurationMS: ms(1),
			FinishedAt: &finished, NextAttemptAt: &next}, "retrying: 4 attempts so far, the last took 1ms; next attempt at " + at},
		{"retrying after one attempt", engine.StepRun{Kind: "http", Status: engine.StatusRetrying, Attempts: 1, DurationMS: ms(0),
			FinishedAt: &finished, NextAttemptAt: &next}, "retrying: 1 attempt so far, which took <1ms; next attempt at " + at},
		{"a delay waiting", engine.StepRun{Kind: "delay", Status: engine.StatusWaiting, Attempts: 1, DurationMS: ms(0),
			FinishedAt: &finished, NextAttemptAt: &next}, "waiting until " + at},
		{"a workflow step waiting for its child", engine.StepRun{Kind: "workflow", Status: engine.StatusWaiting, Attempts: 3,
			DurationMS: ms(2), FinishedAt: &finished, NextAttemptAt: &next, Output: map[string]any{"run_id": "01jd3wz2q7t5:kids:0"}},
			"waiting for child run 01jd3wz2q7t5:kids:0"},
		{"a wait waiting", engine.StepRun{Kind: "wait", Status: engine.StatusWaiting, NextAttemptAt: &next},
			"waiting, times out " + next.Local().Format(time.DateTime)},
		{"succeeded", engine.StepRun{Kind: "http", Status: engine.StatusSucceeded, Attempts: 2, DurationMS: ms(41),
			FinishedAt: &finished}, "succeeded in 41ms after 2 attempts"},
		{"a wait resumed", engine.StepRun{Kind: "wait", Status: engine.StatusSucceeded, Attempts: 2, DurationMS: ms(11000),
			FinishedAt: &finished, Output: map[string]any{"timed_out": false}}, "succeeded, resumed after 11s"},
		{"a wait timed out", engine.StepRun{Kind: "wait", Status: engine.StatusSucceeded, Attempts: 2, DurationMS: ms(3000),
			FinishedAt: &finished, Output: map[string]any{"timed_out": true}}, "succeeded, timed out after 3s"},
		{"a workflow step woken by its child", engine.StepRun{Kind: "workflow", Status: engine.StatusSucceeded, Attempts: 2, DurationMS: ms(120),
			FinishedAt: &finished}, "succeeded in 120ms"},
		{"a delay", engine.StepRun{Kind: "delay", Status: engine.StatusSucceeded, Attempts: 1, DurationMS: ms(0),
			FinishedAt: &finished, Output: map[string]any{"until": "2026-12-04T10:00:03Z", "seconds": 3.0}}, "succeeded, held the run 3s"},
		{"a delay that held the run longer", engine.StepRun{Kind: "delay", Status: engine.StatusSucceeded, Attempts: 1, DurationMS: ms(30000),
			FinishedAt: &finished, Output: map[string]any{"until": "2026-12-04T10:00:20Z", "seconds": 20.0}}, "succeeded, held the run 30s"},
		{"a delay its run's cancel cut", engine.StepRun{Kind: "delay", Status: engine.StatusCancelled, Attempts: 1, DurationMS: ms(3000),
			FinishedAt: &finished, Output: map[string]any{"until": "2026-12-04T10:02:00Z", "seconds": 120.0}}, "cancelled in 3s"},
		{"a delay of a dry run", engine.StepRun{Kind: "delay", Status: engine.StatusSucceeded, Attempts: 1, DurationMS: ms(0),
			FinishedAt: &finished, Output: map[string]any{"seconds": 7200, "skipped": true}}, "succeeded, 2h not waited (a dry run waits for nothing)"},
		{"a wait that failed", engine.StepRun{Kind: "wait", Status: engine.StatusFailed, Attempts: 2, DurationMS: ms(3000),
			FinishedAt: &finished}, "failed after 3s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := stepLine(&c.step); got != c.want {
				t.Errorf("%q, want %q", got, c.want)
			}
		})
	}
}

// A time to come shows its date when it is not today.
func TestTimeOfDay(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local)
	if got := timeOfDay(now.Add(time.Hour), now); got != "11:00:00" {
		t.Errorf("later today: %q", got)
	}
	if got := timeOfDay(now.Add(24*time.Hour), now); got != "2026-12-05 10:00:00" {
		t.Errorf("tomorrow: %q", got)
	}
}

// runs show prints an error of several lines (an expression's, with a caret under the
// place it failed) with its lines after the first indented under its text, for a
// step, an item and the run alike.
func TestPrintRunIndentsErrorLines(t *testing.T) {
	const exprErr = "if: len(steps.find.body.results) > 0: invalid argument for len (type <nil>) (1:1)\n" +
		" | len(steps.find.body.results) > 0\n" +
		" | ^"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "w", Version: "v1", Status: engine.RunFailed,
		Error: "step mark: " + exprErr},
		Steps: []engine.StepRun{
			{Name: "mark", Path: "mark", Kind: "http", Status: engine.StatusFailed, Error: exprErr},
			{Name: "each", Path: "each", Kind: "http", Status: engine.StatusFailed, ItemCount: 1, Items: []engine.StepRun{
				{Name: "each", Path: "each[0]", Kind: "http", Key: 0, Status: engine.StatusFailed, Error: exprErr},
			}},
		}}
	var b strings.Builder
	printRun(&b, run, false)
	for _, want := range []string{
		"  1. mark (http) failed\n" +
			"     error: if: len(steps.find.body.results) > 0: invalid argument for len (type <nil>) (1:1)\n" +
			"             | len(steps.find.body.results) > 0\n" +
			"             | ^\n",
		"     each[0] failed\n" +
			"       error: if: len(steps.find.body.results) > 0: invalid argument for len (type <nil>) (1:1)\n" +
			"               | len(steps.find.body.results) > 0\n" +
			"               | ^\n",
		"run failed\n" +
			"  error: step mark: if: len(steps.find.body.results) > 0: invalid argument for len (type <nil>) (1:1)\n" +
			"          | len(steps.find.body.results) > 0\n" +
			"          | ^\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks\n%s\nin\n%s", want, b.String())
		}
	}
}

// A failed run whose workflow changed since says whether a replay on the version in
// use would be refused, rather than suggest it.
func TestRunEndSaysWhatAReplayCanRun(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "r1", Workflow: "w", Status: engine.RunFailed, DeadLetter: "r1:broken"},
		CurrentVersion: "v2"}
	var buf bytes.Buffer
	printRunEnd(&buf, run, true)
	if !strings.Contains(buf.String(), "hookflow runs replay --current r1") {
		t.Errorf("the current version has the failed step:\n%s", buf.String())
	}
	run.CurrentLacks = []string{"broken"}
	buf.Reset()
	printRunEnd(&buf, run, true)
	if out := buf.String(); strings.Contains(out, "--current") || !strings.Contains(out, "version v2, in use now, has no step broken, which failed it") {
		t.Errorf("the current version lacks the failed step:\n%s", out)
	}
}

// A failed run whose step could not start its child, the workflow it calls being
// gone from the files, says to restore that workflow before the replay, which would
// fail again without it.
func TestRunEndSaysToRestoreAWorkflowItCalls(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "r1", Workflow: "w", Status: engine.RunFailed, DeadLetter: "r1:call"},
		CallsGone: []string{"kid"}}
	var buf bytes.Buffer
	printRunEnd(&buf, run, true)
	want := "dead letter r1:call: the run calls workflow kid, which is not among the workflows in use now: restore it, " +
		"then replay the run with: hookflow runs replay r1\n"
	if buf.String() != "run failed\n  "+want {
		t.Errorf("got\n%s\nwant a line\n%s", buf.String(), want)
	}
}

// runs show cuts a long line of a value, or of a request's body, after maxLineWidth
// characters, counted in runes so that a UTF-8 sequence is never split, and says how
// many it left out: a webhook whose body holds one string of 3,000,000 characters
// prints a few lines, not megabytes.
func TestPrintRunCutsLongLines(t *testing.T) {
	huge := strings.Repeat("é", 3_000_000)
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "w", Version: "v1", Status: engine.RunSucceeded},
		Event: &engine.EventView{ID: "e1", Trigger: "webhook", Body: map[string]any{"text": huge}},
		Steps: []engine.StepRun{{Name: "post", Path: "post", Kind: "http", Status: engine.StatusSucceeded,
			Output:   map[string]any{"short": strings.Repeat("x", maxLineWidth-len(`  "short": ""`))},
			Requests: []workflows.Request{{Attempt: 1, Method: "POST", URL: "https://example.com", Body: `{"text":"` + huge + `"}`, Status: 200}}}}}
	var b strings.Builder
	printRun(&b, run, true)
	out := b.String()
	if len(out) > 4096 || !utf8.ValidString(out) {
		t.Fatalf("%d bytes, valid UTF-8 %v, want a few lines:\n%.4096s", len(out), utf8.ValidString(out), out)
	}
	for _, want := range []string{
		// "  \"text\": \"" is 11 characters, 189 more make 200; the line has 3,000,012.
		"  body: {\n          \"text\": \"" + strings.Repeat("é", 189) + "… 2999812 more characters (--json shows all)\n        }\n",
		// A line of maxLineWidth characters is whole.
		"     output: {\n               \"short\": \"" + strings.Repeat("x", maxLineWidth-13) + "\"\n             }\n",
		// "{\"text\":\"" is 9 characters; the body has 3,000,011.
		"       {\"text\":\"" + strings.Repeat("é", 191) + "… 2999811 more characters (--json shows all)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks\n%.300s\nin\n%s", want, out)
		}
	}
}

// An error, a request's URL, a header's value and a request's error of megabytes are
// cut too, after maxTextWidth characters.
func TestPrintRunCutsLongErrorsAndURLs(t *testing.T) {
	huge := strings.Repeat("q", 3_000_000)
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "w", Version: "v1", Status: engine.RunFailed, Error: "step post: " + huge},
		Steps: []engine.StepRun{{Name: "post", Path: "post", Kind: "http", Status: engine.StatusFailed, Error: huge,
			Requests: []workflows.Request{{Attempt: 1, Method: "GET", URL: "https://example.com/?q=" + huge,
				Headers: map[string]string{"X-Long": huge}, Error: "dial: " + huge}}}}}
	var b strings.Builder
	printRun(&b, run, true)
	out := b.String()
	if len(out) > 6*maxTextWidth {
		t.Fatalf("%d bytes, want the long lines cut:\n%.2000s", len(out), out)
	}
	for _, want := range []string{
		"  error: step post: " + strings.Repeat("q", maxTextWidth-len("step post: ")) + "… 2998011 more characters (--json shows all)\n",
		"     error: " + strings.Repeat("q", maxTextWidth) + "… 2998000 more characters (--json shows all)\n",
		"     → GET https://example.com/?q=" + strings.Repeat("q", maxTextWidth-len("https://example.com/?q=")) + "… 2998023 more characters",
		"       X-Long: " + strings.Repeat("q", maxTextWidth) + "… 2998000 more characters",
		"       ← no answer in 0ms: dial: " + strings.Repeat("q", maxTextWidth-len("dial: ")) + "… 2998006 more characters",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks\n%.300s", want)
		}
	}
}

// A cut counts what it leaves out in characters, one alike.
func TestCutLine(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"abc", "abc"},
		{"abcd", "abc… 1 more character"},
		{"日本語です", "日本語… 2 more characters"},
	} {
		if got := cutLine(c.line, 3, ""); got != c.want {
			t.Errorf("cutLine(%q): %q, want %q", c.line, got, c.want)
		}
	}
}
