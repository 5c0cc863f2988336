package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// workflowTests is what hookflow test is asked to do.
type workflowTests struct {
	run      string // -run: a regular expression the names of the tests to run match
	verbose  bool
	timeout  time.Duration // for each test's run
	parallel int
	junit    string // a file for a JUnit XML report; "" for none
	// queued, when set, is called once a test's run is queued, and starting as a
	// directory's embedded Redis starts, its tests loaded: the tests of this command
	// interrupt a run of the tests there.
	queued   func(*workflows.Test)
	starting func(dir string)
}

func testCommand() *cobra.Command {
	var o workflowTests
	cmd := &cobra.Command{
		Use:     "test [-run REGEX] [-v] [--junit FILE] [PATH ...]",
		GroupID: "author",
		Short:   "Run the workflow tests written in *.test.hcl files",
		Long: `test runs the tests in the *.test.hcl files at each PATH (default: the current
directory) against the workflows beside them. PATH is a directory, whose workflows and
tests are read with its subdirectories, as serve would load it; a test file, run
against the workflows of its directory; or DIR/..., each set of workflows under DIR
on its own, so that sets whose workflows' names clash are tested in one command: a
set is a directory holding workflow files below none that does (up to DIR), tested
as PATH would test it, with the tests of its subdirectories too. A test file in no
set is run against the workflows of its directory. A directory named twice (or
with a test file in it) runs each of its tests once.

Each test gives a workflow an event, answers its http steps with mocks, and checks
what the run did: the requests the steps sent, their outputs, the steps skipped, how
the run ended. The run is a real one, with the workflow's filter, conditions, retries
and on_error, on an embedded Redis; but nothing is sent: an http step without a mock
fails the test, showing the request it would have sent. Delays and the waits between
retries take no time. A wait step is resumed by the test's resume "STEP" {} block, or
times out at once. The time these would take under serve counts towards the
workflow's timeout, which fails the run at the same step as serve. Tests read nothing
from the environment, so that they pass or fail alike in every shell and in CI: env()
reads its default, and an env() without one or a secret() reads as
https://unset.invalid/NAME.

test prints ok or FAIL for each test, and for each failed expectation its file:line
with what was expected and what was sent. -v prints every test's steps too; --junit
FILE writes the results as JUnit XML as well, for CI. The exit status is 0 when every
test passes, 1 when one fails or a file is invalid, or SIGINT or SIGTERM interrupts
the tests (those that did not end are printed as not run), 2 for a wrong command line.`,
		Example: `  hookflow test
  hookflow test examples/...
  hookflow test -run 'paid order' -v examples/stripe-payment
  hookflow test --junit report.xml ./...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.runAll(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.run, "run", "", "run only the tests whose name matches this `regex`")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print each test's steps and requests, passed or not")
	fs.Var(newDuration(&o.timeout, time.Minute, time.Nanosecond), "timeout", "fail a test whose run, or a child run it started, has not finished this long after the run was queued")
	fs.Var(newAtLeast(&o.parallel, testParallel(), 1), "parallel", "run at most this many tests at once")
	fs.StringVar(&o.junit, "junit", "", "also write the results to this `file` as JUnit XML, for CI")
	return cmd
}

// testParallel is how many tests run at once by default: a test mostly waits for the
// embedded Redis and its workers, so a few per core keep them busy.
func testParallel() int { return 4 * runtime.GOMAXPROCS(0) }

// testFlagSpelling lets hookflow test take -run, -parallel, -timeout and -junit with
// one dash, as go test does: they become --run, --parallel, --timeout and --junit.
func testFlagSpelling(args []string) []string {
	if len(args) == 0 || args[0] != "test" {
		return args
	}
	out := append([]string{}, args...)
	for i, a := range out[1:] {
		if a == "--" {
			break
		}
		for _, name := range []string{"-run", "-parallel", "-timeout", "-junit"} {
			if a == name || strings.HasPrefix(a, name+"=") {
				out[i+1] = "-" + a
			}
		}
	}
	return out
}

func (o *workflowTests) runAll(ctx context.Context, paths []string, stdout, stderr io.Writer) error {
	var match *regexp.Regexp
	if o.run != "" {
		var err error
		if match, err = regexp.Compile(o.run); err != nil {
			return usage("-run %q: %v", o.run, err)
		}
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	groups, err := testGroups(paths)
	if err != nil {
		return err
	}
	var junit *os.File
	if o.junit != "" {
		// Made before the tests run: a report that cannot be written is a mistake in
		// the command line, said at once, not after every test has run.
		if junit, err = os.Create(o.junit); err != nil {
			return badFlag("junit", ": cannot create the report: %v", err)
		}
		defer func() {
			if junit != nil { // a group could not start, or none did: no report, rather than an empty file
				junit.Close()
				os.Remove(o.junit)
			}
		}()
	}
	var c testCounts
	var report []junitGroup
	warned := map[string]bool{} // the test files whose warnings were printed
	for i, g := range groups {
		if ctx.Err() != nil { // SIGINT or SIGTERM: the directories left are not tested
			c.untested = len(groups) - i
			break
		}
		gr, err := o.runGroup(ctx, g, match, stderr)
		if err != nil {
			return err
		}
		if ws := unwarned(gr.warnings, warned); len(ws) > 0 && gr.invalid == "" { // else they are in it
			_ = workflows.WriteDiagnostics(stderr, g.tests, ws)
		}
		c.found += gr.found
		c.files += len(g.tests)
		report = append(report, junitGroup{dir: g.dir, invalid: gr.invalid, results: gr.results})
		if gr.invalid != "" {
			c.invalid++
			io.WriteString(stderr, gr.invalid)
			fmt.Fprintf(stdout, "FAIL  %s  [invalid files]\n", g.dir)
			continue
		}
		for _, r := range gr.results {
			switch {
			case r.interrupted:
				c.notRun++
			case r.failed():
				c.failed++
				c.total++
			default:
				c.total++
			}
			r.print(stdout, o.verbose)
		}
	}
	result := o.summary(stdout, c)
	if junit != nil && len(report) > 0 {
		err := writeJUnit(junit, report)
		if cerr := junit.Close(); err == nil {
			err = cerr
		}
		junit = nil
		if err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	return result
}

// unwarned is the warnings of diags about files whose warnings were not printed yet,
// and adds those files to warned: a file's warnings are printed once, as validate
// prints them, though it is tested with two directories.
func unwarned(diags hcl.Diagnostics, warned map[string]bool) hcl.Diagnostics {
	var out hcl.Diagnostics
	now := map[string]bool{}
	for _, d := range diags {
		if d.Severity != hcl.DiagWarning {
			continue
		}
		file := ""
		if d.Subject != nil {
			file = samePath(d.Subject.Filename)
		}
		if !warned[file] {
			out = append(out, d)
			now[file] = true
		}
	}
	maps.Copy(warned, now)
	return out
}

// testCounts counts what hookflow test ran.
type testCounts struct {
	total, failed int // the tests run, and those of them that failed
	invalid       int // the directories that did not load
	found, files  int // the tests in the files, and the files, before -run
	// notRun are the tests SIGINT or SIGTERM cut short or kept from starting, and
	// untested the directories it kept from loading: either makes the run interrupted.
	notRun, untested int
}

// summary prints the last line of hookflow test's output, and returns its exit status:
// nil when every test passed.
func (o *workflowTests) summary(stdout io.Writer, c testCounts) error {
	switch {
	case c.notRun > 0 || c.untested > 0:
		what := []string{fmt.Sprintf("%d passed", c.total-c.failed), fmt.Sprintf("%d failed", c.failed), fmt.Sprintf("%d not run", c.notRun)}
		if c.invalid > 0 {
			what = append(what, fmt.Sprintf("%d director%s did not load", c.invalid, map[bool]string{true: "y", false: "ies"}[c.invalid == 1]))
		}
		if c.untested > 0 {
			what = append(what, fmt.Sprintf("%d director%s not tested", c.untested, map[bool]string{true: "y", false: "ies"}[c.untested == 1]))
		}
		fmt.Fprintf(stdout, "INTERRUPTED: %s\n", strings.Join(what, ", "))
		return exitError(exitFailed)
	case c.failed > 0 || c.invalid > 0:
		var what []string // counts of the tests only when some ran
		switch {
		case c.failed > 0:
			what = append(what, fmt.Sprintf("%d of %d test%s failed", c.failed, c.total, plural(c.total)))
		case c.total > 0:
			what = append(what, fmt.Sprintf("%d test%s passed", c.total, plural(c.total)))
		}
		if c.invalid > 0 {
			what = append(what, fmt.Sprintf("%d director%s did not load", c.invalid, map[bool]string{true: "y", false: "ies"}[c.invalid == 1]))
		}
		fmt.Fprintf(stdout, "FAIL: %s\n", strings.Join(what, "; "))
		return exitError(exitFailed)
	case c.total == 0 && c.found > 0:
		fmt.Fprintf(stdout, "no test matches -run %q (%d test%s in %d file%s)\n", o.run, c.found, plural(c.found), c.files, plural(c.files))
	case c.total == 0:
		fmt.Fprintf(stdout, "no tests to run (they are test blocks in *%s files)\n", workflows.TestSuffix)
	default:
		fmt.Fprintf(stdout, "PASS: %d test%s\n", c.total, plural(c.total))
	}
	return nil
}

// groupRun is how a directory's tests went.
type groupRun struct {
	results []*testResult
	found   int // the tests its files hold, -run or not
	// invalid is the diagnostics of its files when they do not load, as printed: its
	// tests did not run. "" when they load.
	invalid string
	// warnings are those of its test files, which the tests do not fail for (the
	// workflows' are validate's to show); in invalid too when they do not load.
	warnings hcl.Diagnostics
}

// runGroup loads a directory's workflows and tests and runs the tests that match, in
// parallel, on one embedded Redis, logging its errors to stderr.
func (o *workflowTests) runGroup(ctx context.Context, g testGroup, match *regexp.Regexp, stderr io.Writer) (groupRun, error) {
	mocks := &mockTransport{byEvent: map[string]*testCase{}}
	client := &http.Client{Transport: mocks, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Client: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		APIs: actions.NewAPIs(), LocalResumes: mocks.resume})
	triggers.Register(k)

	srcs, diags := workflows.ReadDir(g.dir)
	var set *workflows.Set
	if !diags.HasErrors() {
		set, diags = workflows.LoadWith(srcs, k, workflows.Options{Hermetic: true, Dir: g.dir})
		diags = onlyErrors(diags) // warnings are validate's to show
	}
	tests, d := workflows.LoadTests(g.tests, set)
	diags = append(diags, d...)
	if diags.HasErrors() {
		var b strings.Builder
		_ = workflows.WriteDiagnostics(&b, append(srcs, g.tests...), diags)
		return groupRun{invalid: b.String(), warnings: d}, nil
	}
	gr := groupRun{found: len(tests), warnings: d}
	if match != nil {
		tests = slices.DeleteFunc(tests, func(t *workflows.Test) bool { return !match.MatchString(t.Name) })
	}
	if len(tests) == 0 {
		return gr, nil
	}
	// Virtual time: delays, retries' waits and wait steps' timeouts take none, but
	// count towards the workflow's timeout as they would under serve. A run that
	// succeeds keeps its sensitive outputs, for an expect's output to compare as the
	// later steps read them.
	results := make([]*testResult, len(tests))
	if o.starting != nil {
		o.starting(g.dir)
	}
	eng, _, stop, err := localEngine(ctx, set, k, quiet, engine.Options{Child: mocks.child, VirtualTime: true, KeepSensitive: true})
	if err != nil && ctx.Err() != nil {
		// SIGINT or SIGTERM as the directory starts: its tests are loaded, and are
		// reported as not run, as those of a directory interrupted later are.
		for i, t := range tests {
			results[i] = (&testResult{test: t}).cutShort()
		}
		gr.results = results
		return gr, nil
	}
	if err != nil {
		return gr, err
	}
	defer stop()

	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for i, t := range tests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = o.runTest(ctx, eng, set, mocks, t)
		}()
	}
	wg.Wait()
	gr.results = results
	return gr, nil
}

func onlyErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	return slices.DeleteFunc(diags, func(d *hcl.Diagnostic) bool { return d.Severity != hcl.DiagError })
}

// runTest runs one test: its event through the workflow's filter, then a run, and
// checks what the run did.
func (o *workflowTests) runTest(ctx context.Context, eng *engine.Engine, set *workflows.Set, mocks *mockTransport, t *workflows.Test) *testResult {
	start := time.Now()
	r := &testResult{test: t}
	defer func() { r.took = time.Since(start) }()
	// SIGINT or SIGTERM ends interrupt (and ctx, which --timeout ends too, below): a
	// test it keeps from its result is not run, rather than failed for it.
	interrupt := ctx
	if interrupt.Err() != nil {
		return r.cutShort()
	}
	wf := set.Workflow(t.Workflow)
	r.redact, r.secrets = wf.Secrets.String, wf.Secrets
	ev, err := testEvent(t, wf)
	if err != nil {
		r.fail(t.DefRange, "the event: %v", err)
		return r
	}
	if wf.Filter != nil && triggerKinds.Filtered(ev.Trigger) {
		ok, err := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
		switch {
		case err != nil:
			r.fail(t.DefRange, "the filter fails on this event: %s", wf.Secrets.PlusCredentials(ev.Value()).String(err.Error()))
			return r
		case !ok:
			r.outcome = workflows.TestFiltered
			if t.ExpectRun != workflows.TestFiltered {
				r.fail(t.ExpectRunRange, "the run: expected %s, but the filter is false for this event, so no run starts\n    filter = %q",
					t.ExpectRun, wf.Secrets.String(wf.Filter.Source))
			}
			return r
		}
	}
	tc := &testCase{test: t, used: map[string]int{}, sent: map[string][]*sentRequest{}}
	mocks.add(ev.ID, tc)
	defer mocks.remove(ev.ID)
	// The run's id is its event's: the mocks find the test of a request by it, and
	// those of its child runs by the prefix of theirs (<run>:<step>…).
	runID := ev.ID
	if err := eng.StartAs(ctx, wf, ev, runID); err != nil {
		if interrupt.Err() != nil {
			return r.cutShort()
		}
		r.fail(t.DefRange, "starting the run: %v", err)
		return r
	}
	if o.queued != nil {
		o.queued(t)
	}
	// --timeout is the run's, from when it is queued: a short one says the run has
	// not finished, with its steps so far, rather than that it could not be queued.
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	run, err := waitFinished(ctx, eng, wf, runID)
	if err != nil {
		if interrupt.Err() != nil {
			return r.cutShort()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r.fail(t.DefRange, "the run did not finish after --timeout %s; its steps so far are below", o.timeout)
		} else {
			r.fail(t.DefRange, "waiting for the run to finish: %v", err)
		}
		r.steps, _ = testRunSteps(ctx, eng, runID)
		return r
	}
	r.outcome = string(run.Status)
	// The child runs of wait = false steps go on after the run: what they send is
	// checked once they have ended too, as long as --timeout allows.
	steps, unended := testRunSteps(ctx, eng, runID)
	if len(unended) > 0 && interrupt.Err() != nil { // they were waited for until then
		return r.cutShort()
	}
	for _, c := range unended {
		r.fail(t.DefRange, "the child run %s of step %s did not finish after --timeout %s; its steps so far are below", c.id, c.of, o.timeout)
	}
	if len(unended) > 0 { // the run's steps are read all the same, to check them
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	values, err := eng.StepValues(ctx, runID)
	if err != nil {
		if interrupt.Err() != nil {
			return r.cutShort()
		}
		r.fail(t.DefRange, "reading the run's steps: %v", err)
		return r
	}
	check(r, tc, run, values)
	checkAnswerTime(r, eng, wf, ev, runID)
	if r.failed() || o.verbose {
		r.steps = steps
	}
	return r
}

// testRunSteps prints a test's run as hookflow run prints it: its steps, each workflow
// step followed by its child runs, indented, with their steps. It waits for the child
// runs that have not ended (a wait = false step's, and theirs) until ctx is done, and
// then prints them as they stand, and lists those that had not ended.
func testRunSteps(ctx context.Context, eng *engine.Engine, runID string) (string, []childRun) {
	var b strings.Builder
	f := &follower{eng: eng, progress: io.Discard, wait: true, answered: "a mock"}
	if _, err := f.run(ctx, runID, "", &b); err == nil {
		return b.String(), nil
	}
	b.Reset()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	f.wait = false
	if _, err := f.run(ctx, runID, "", &b); err != nil {
		fmt.Fprintf(&b, "(the run's steps cannot be read: %v)\n", err)
	}
	return b.String(), f.unended
}

// waitFinished waits for a run to finish, woken by the engine as its steps commit
// rather than reading the whole run again and again: a thousand tests in parallel
// would spend the embedded Redis on those reads.
func waitFinished(ctx context.Context, eng *engine.Engine, wf *workflows.Workflow, runID string) (*engine.Run, error) {
	if _, err := eng.WaitEnded(ctx, wf, runID); err != nil {
		return nil, err
	}
	return eng.Run(ctx, runID)
}

// testEvent makes a test's event: the one the workflow's first trigger makes, or the
// first trigger of the kind the test names. A webhook's is the one its params pick
// (see pickWebhook); a schedule's tick and a poll's item are as serve makes them, with
// no headers, query or params, and a poll's time in UTC.
func testEvent(t *workflows.Test, wf *workflows.Workflow) (*workflows.Event, error) {
	te := t.Event
	if te.Raw == "" {
		te.Raw, te.ContentType = "{}", "application/json"
	}
	ev := &workflows.Event{ID: id.New(), Trigger: "manual", ReceivedAt: time.Now().UTC(),
		ContentType: te.ContentType, Raw: te.Raw, Headers: map[string]string{}, Query: te.Query, Params: te.Params}
	for k, v := range te.Headers {
		ev.Headers[k] = v
	}
	if ev.Headers["content-type"] == "" {
		ev.Headers["content-type"] = ev.ContentType
	}
	body, err := workflows.ParseBody(ev.ContentType, []byte(ev.Raw))
	if err != nil {
		return nil, err
	}
	ev.Body = body
	if te.Trigger == "webhook" || te.Trigger == "" {
		if _, err := pickWebhook(wf, te.Params, testParamWords); err != nil {
			return nil, err
		}
	}
	switch te.Trigger {
	case "manual":
	case "":
		shapeEvent(ev, wf)
	default: // the event of the kind named, as its first trigger makes it: a poll's item has no method
		triggerKinds.LocalEventOf(wf, te.Trigger, ev, !triggers.NoEvent(ev.Raw))
		ev.Trigger = te.Trigger
	}
	switch ev.Trigger {
	case "schedule", "poll":
		if err := noRequest(te, ev.Trigger); err != nil {
			return nil, err
		}
		ev.Headers, ev.Query, ev.Params = nil, nil, nil
	}
	if ev.Trigger == "poll" { // event.poll: the test's, else the first page of a poll at the test's time
		at := ev.ReceivedAt
		if te.PollTime != "" {
			at, _ = time.Parse(time.RFC3339, te.PollTime) // checked at load
		}
		ev.Poll = map[string]any{"time": at.UTC().Truncate(time.Second).Format(time.RFC3339), "page": max(te.PollPage, 1)}
	}
	return ev, nil
}

// noRequest refuses headers, a query and params in a test's event of a schedule's tick
// or a poll's item: no request made it, so serve's has none, and a workflow that reads
// them would pass its test and fail when served.
func noRequest(te workflows.TestEvent, kind string) error {
	var given []string
	for _, a := range []struct {
		name string
		n    int
	}{{"headers", len(te.Headers)}, {"query", len(te.Query)}, {"params", len(te.Params)}} {
		if a.n > 0 {
			given = append(given, a.name)
		}
	}
	if len(given) == 0 {
		return nil
	}
	what := map[string]string{"schedule": "a schedule's tick", "poll": "a poll's item"}[kind]
	return fmt.Errorf("the event is %s, which no request makes, so it has no headers, query or params, under serve as here: leave out %s",
		what, strings.Join(given, " and "))
}
