package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// localRun is what hookflow run is asked to do.
type localRun struct {
	dir         string
	eventFile   string
	contentType string
	headers     []string
	params      []string // NAME=VALUE: the event's params, of its webhook's path
	responses   []string // STEP=[STATUS:]FILE: what a dry run answers that step
	resumes     []string // STEP=FILE: what resumes that wait step
	query       []string // NAME=VALUE: the query of every resume
	dryRun      bool
	noFilter    bool
	asJSON      bool
	timeout     time.Duration
	allowNet    prefixList
	poll        string   // --poll: the poll trigger to poll once, instead of a run
	redisURL    string   // --redis: where --poll reads the items seen and the cursor
	redisFile   string   // --redis-file: where to read redisURL from
	redisTLS    redisTLS // --redis-tls-*
	// publicURL and listen are serve's --public-url and --listen (and their variables),
	// which the resume URLs of wait steps start with, as serve makes them.
	publicURL string
	listen    string
}

func runCommand() *cobra.Command {
	var o localRun
	cmd := &cobra.Command{
		Use:     "run [--dir DIR] [--event FILE|-] [--dry-run] WORKFLOW | --poll NAME",
		GroupID: "author",
		Short:   "Run a workflow once, here, printing each step",
		Long: `run loads the workflows in --dir (default: the current directory) and runs one of
them once in this process, on an embedded Redis, printing each step as it finishes:
its status, attempts, the requests it sent and its output, as runs show prints them.
While a step waits to be tried again, a line on standard error says so. It needs no
hookflow serve and leaves nothing behind.
Only what WORKFLOW reads must be set: the env() and secret() of the other workflows,
of the vars WORKFLOW does not refer to, and of its triggers' verify blocks and polls
(but with --poll, what the poll reads) may be missing. A dry run reads what its steps
read, to build the requests it prints.

The event is the file named by --event (- for standard input; default: {}). Its
content type comes from --content-type, else from a Content-Type in --header, else
from the file's extension (.form for a form, .txt, .xml), else it is JSON. --header
gives it headers, one "Name: value" or @FILE for a file of them, as curl -H takes;
--param NAME=VALUE the value of a {NAME} segment of its webhook's path.
For a workflow with a webhook, the event is that webhook's, and the workflow's filter
applies (--no-filter runs it anyway); signatures are not checked. For a workflow with
only a schedule, the event is its latest tick.

--dry-run sends nothing: each http step prints the request it would send (credential
headers and secrets hidden) and gets a 200 answer with an empty JSON object, and delay
steps wait for nothing. A request a real run would refuse (a private address without
--allow-net) is printed too, marked refused, and fails its step as it would.

--response STEP=[STATUS:]BODY answers one step instead: with STATUS (default 200) and
BODY, a file (- for standard input) or inline JSON ('{…}'); STEP=STATUS answers with
no body. A 404 or a 503 tries the failure paths: the step fails, is retried, and its
on_error and the steps reading steps.STEP.status do what they would. Given more than
once for a step, the answers are used in turn, one per request, the last one again
once they run out: --response find=503 --response find=200:found.json. A step of
the child run of a workflow step is named as tests name it, STEP/CHILD_STEP
(--response invoice/create=…), or by its own name when no other step has it. The
child run is printed below its workflow step, indented, with its steps' requests. A
workflow step given a --response gets its BODY as its child's result, and starts no
child run (a STATUS from 400 fails it), as a test's mock answers it.

A wait step goes on at once, as if its resume URL was POSTed to with an empty
body; --resume STEP=FILE resumes it with FILE (- for standard input, or inline JSON
'{…}') as steps.STEP.body instead. STEP is named as tests name it: approval is the
run's own wait step, invoice/approval that of the child run of workflow step
invoice, and invoices/approval those of every item's child run of a for_each
workflow step. --query NAME=VALUE (repeatable) is the query of every wait step's
resume, read as steps.STEP.query.NAME. Nothing here serves resume URLs.

--poll NAME polls a poll trigger once, for real: NAME is its workflow, or WORKFLOW/N
for the Nth poll trigger of a workflow with several. It prints the request sent and
each item of the answer, new or seen: with --redis, the Redis a serving hookflow uses,
the cursor and the items seen are read from it (and nothing is written to it);
without, there is no cursor and every item is new. With --dry-run it starts nothing;
without, each new item runs the workflow here, one after the other, as a run of this
command does (the filter applies, --no-filter runs every item).

The exit status is 0 when the run succeeds or the filter skips it, 1 when it fails
(with --poll: when the poll fails, or the run of an item).`,
		Example: `  hookflow run --dir examples/github-push --event examples/github-push/event.json \
    --header @examples/github-push/event.headers --dry-run github_push
  hookflow run --dir examples/quickstart --event examples/quickstart/event.json --dry-run \
    --allow-net 127.0.0.1/32 --response greet='{"message": "Hello, Ada!", "length": 3}' hello
  hookflow run --dir examples/quickstart --event examples/quickstart/event.json --dry-run \
    --allow-net 127.0.0.1/32 --response greet=404 hello
  echo '{"email": "ada@example.com"}' | hookflow run --dir my-flows --event - welcome
  hookflow run --dir examples/health-check --json health_check > run.json
  hookflow run --dir examples/poll-orders --poll poll_orders --redis redis://localhost:6379/0 --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("poll") {
				return maxArgs(0)(cmd, args)
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkPaths("dir", o.dir); err != nil {
				return err
			}
			if o.poll != "" {
				return o.runPoll(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			for _, f := range []string{"redis", "redis-file", "redis-tls-ca", "redis-tls-cert", "redis-tls-key"} {
				if cmd.Flags().Changed(f) { // not HOOKFLOW_REDIS and the others, which serve's environment may set
					return usage("--%s is read by --poll only: a run of this command runs on an embedded Redis", f)
				}
			}
			return o.run(cmd.Context(), args[0], cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.dir, "dir", ".", "`directory` of the workflow files")
	fs.StringVar(&o.eventFile, "event", "", "`file` holding the event's body, or - for standard input (default: {})")
	fs.StringVar(&o.contentType, "content-type", "", "content type of the event (default: from the file's extension, else JSON)")
	fs.StringArrayVar(&o.headers, "header", nil, "an event header, `\"Name: value\"`, or @FILE for a file of them, one per line (repeatable)")
	fs.StringArrayVar(&o.params, "param", nil, "a {name} segment of the webhook's path, `NAME=VALUE`, read as event.params.NAME and in event.path (repeatable)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the requests the http steps would send, and send nothing")
	fs.StringArrayVar(&o.resumes, "resume", nil, "resume this wait step with this body, `STEP=FILE` or STEP='{…}', instead of an empty one (repeatable)")
	fs.StringVar(&o.publicURL, "public-url", "", "`URL` at which senders reach serve's --listen, which resume_url() builds on, as serve's (default: http://localhost:PORT of --listen)")
	fs.StringVar(&o.listen, "listen", ":8080", "serve's `address` for webhooks, whose port resume_url() builds on without --public-url")
	fs.StringArrayVar(&o.query, "query", nil, "a query parameter of every wait step's resume, `NAME=VALUE`, read as steps.STEP.query.NAME (repeatable)")
	fs.StringArrayVar(&o.responses, "response", nil, "in a dry run, answer this http step with this status and body, `STEP=[STATUS:]FILE`, STEP=[STATUS:]'{…}' or STEP=STATUS (repeatable)")
	fs.BoolVar(&o.noFilter, "no-filter", false, "run even when the workflow's filter is false for the event")
	fs.BoolVar(&o.asJSON, "json", false, "print the finished run as JSON, as the admin API shows it, with its child runs, instead of step by step")
	fs.Var(newDuration(&o.timeout, 10*time.Minute, time.Nanosecond), "timeout", "give up on the run after this long")
	fs.Var(&o.allowNet, "allow-net", "let steps call this private network (repeatable), e.g. 127.0.0.1/32")
	fs.StringVar(&o.poll, "poll", "", "poll this poll trigger once and show the new items, `NAME` = WORKFLOW or WORKFLOW/N; without --dry-run, run each here")
	fs.StringVar(&o.redisURL, "redis", "", "with --poll, the Redis `URL` a serving hookflow keeps the poll's cursor and items seen in (read only)")
	redisConnFlags(fs, &o.redisFile, &o.redisTLS)
	return cmd
}

func (o *localRun) run(ctx context.Context, name string, stdin io.Reader, stdout, stderr io.Writer) error {
	resumeAt, err := resumeBase(o.publicURL, o.listen) // checked first: --listen bad is wrong, filtered or not
	if err != nil {
		return err
	}
	ev, err := o.event(stdin)
	if err != nil {
		return err
	}
	var out io.Writer = stdout
	if o.asJSON {
		out = io.Discard // the run is printed whole at the end
	}
	guard := actions.NewGuard(o.allowNet)
	dry := &dryRunTransport{redact: func(s string) string { return s }, guard: guard, labels: &stepLabels{}}
	if dry.answers, err = o.answers(stdin); err != nil {
		return err
	}
	query, err := queryFlag(o.query)
	if err != nil {
		return err
	}
	resumes, err := o.resumeBodies(stdin, query)
	if err != nil {
		return err
	}
	client := actions.NewClient(guard)
	if o.dryRun {
		client = &http.Client{Transport: dry, CheckRedirect: client.CheckRedirect}
	}
	stepLog := slog.New(slog.NewTextHandler(stderr, nil))
	k := workflows.NewKinds()
	apis := actions.NewAPIs()
	actions.Register(k, actions.Options{Client: client, Logger: stepLog, SkipDelays: o.dryRun, APIs: apis,
		LocalResumes: func(c *workflows.Call) (*workflows.Resume, bool) {
			if r := resumes[dry.labels.label(c.RunID, c.Step)]; r != nil {
				return r, true
			}
			return &workflows.Resume{Query: query}, true // as a POST with no body
		}})
	triggers.Register(k)
	set := loadFor(o.dir, name, k, stderr)
	if set == nil {
		return exitError(exitFailed)
	}
	wf := set.Workflow(name)
	if wf == nil {
		var names []string
		for _, w := range set.Workflows() {
			names = append(names, w.Name)
		}
		return usage("there is no workflow %q in %s; %s", name, o.dir, others(name, names))
	}
	if wf.Secrets != nil {
		dry.redact = wf.Secrets.Encoded().String // requests are shown encoded for the wire
	}
	if resumes, err = resumedWaits(set, wf, resumes); err != nil {
		return err
	}
	if dry.answers, err = answeredSteps(set, wf, dry.answers); err != nil {
		return err
	}
	if hook, err := pickWebhook(wf, ev.Params, runParamWords); err != nil {
		return err
	} else if hook == nil && len(ev.Params) > 0 {
		return badFlag("param", ": workflow %s has no webhook, and --param gives a {name} segment of a webhook's path", wf.Name)
	}
	shapeEvent(ev, wf)
	if wf.Filter != nil && triggerKinds.Filtered(ev.Trigger) && !o.noFilter {
		ok, err := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "the filter of %s fails on this event: %s\n", wf.Name, wf.Secrets.PlusCredentials(ev.Value()).String(err.Error()))
			return exitError(exitFailed)
		case !ok && o.asJSON:
			fmt.Fprintf(stdout, "{\"workflow\":%q,\"status\":\"filtered\"}\n", wf.Name)
			return nil
		case !ok:
			fmt.Fprintf(stdout, "filtered: the filter of %s is false for this event, so a %s would start no run (--no-filter runs it anyway)\n  filter = %q\n",
				wf.Name, ev.Trigger, wf.Secrets.String(wf.Filter.Source))
			return nil
		}
	}

	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// Child names a child run's steps as tests name them, for --response and --resume.
	opts := engine.Options{ResumeBase: resumeAt, Child: func(_ context.Context, call engine.ChildCall) (any, bool, error) {
		dry.labels.learn(call)
		return nil, false, nil
	}}
	if o.dryRun {
		opts.Child = dry.child // which answers a workflow step a --response gives too
	}
	eng, rdb, stop, err := localEngine(ctx, set, k, quiet, opts)
	if err != nil {
		return err
	}
	defer stop()
	if !o.dryRun {
		apis.Connect(rdb) // a dry run waits for no api's limits
	}

	interrupted := ctx
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	runID, err := eng.Start(ctx, wf, ev)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "run %s of %s (%s event)\n", runID, wf.Name, ev.Trigger)
	var sent func(run, step string) string // nil: what the steps' records say they sent
	if o.dryRun {
		sent = dry.requests
	}
	progress := stderr
	if o.asJSON {
		progress = io.Discard
	}
	run, err := follow(ctx, eng, runID, out, progress, sent)
	switch {
	case interrupted.Err() != nil:
		return fmt.Errorf("run %s: %w", runID, errInterrupted)
	case ctx.Err() != nil:
		return fmt.Errorf("run %s: not finished after --timeout %s", runID, workflows.FormatDuration(o.timeout))
	case err != nil:
		return fmt.Errorf("run %s: %w", runID, err)
	}
	if o.asJSON {
		whole, err := withChildren(ctx, eng, run)
		if err != nil {
			return fmt.Errorf("run %s: %w", runID, err)
		}
		if err := writeJSON(stdout, whole); err != nil {
			return err
		}
	} else {
		printRunEnd(out, run, false)
	}
	if run.Status != "succeeded" {
		if o.dryRun && !o.asJSON && dry.defaulted.Load() {
			fmt.Fprintln(out, "  (in a dry run, each http step gets an empty answer unless --response STEP=FILE gives one; steps that read earlier answers may fail for that)")
		}
		return exitError(exitFailed)
	}
	return nil
}

// runWait is a wait step a run of a workflow may reach, its child runs' included:
// its label, as tests name it (see runStep), and the name --resume also takes for it,
// which names a wait step of an on_failure block as written, as resume_url does: ack
// for on_failure/ack, invoice/ack for invoice/on_failure/ack.
type runWait struct{ label, name string }

// runWaits lists the wait steps a run of wf may reach, in the order of runSteps: its
// own, then those of the child run of each of its workflow steps.
func runWaits(set *workflows.Set, wf *workflows.Workflow) []runWait {
	var waits []runWait
	for _, s := range runSteps(set, wf) {
		if _, ok := s.step.Action.(workflows.Waiter); ok {
			waits = append(waits, runWait{label: s.label, name: asWritten(s)})
		}
	}
	return waits
}

// asWritten is a run's step named as tests name it, but a step of an on_failure block
// as written: invoice/ack for invoice/on_failure/ack.
func asWritten(s runStep) string {
	prefix := strings.TrimSuffix(s.label, s.step.Name)
	return prefix + strings.TrimPrefix(s.step.Name, workflows.OnFailurePrefix)
}

// resumedWaits names each --resume's wait step as tests name it: approval for the
// run's own wait step, invoice/approval for that of the child run of workflow step
// invoice, invoices/approval for those of the child runs of every item of a for_each
// workflow step; a wait step of an on_failure block as written, or as tests name it
// (ack or on_failure/ack). A name that is no wait step's is refused, with the names
// of those there are.
func resumedWaits(set *workflows.Set, wf *workflows.Workflow, given map[string]*workflows.Resume) (map[string]*workflows.Resume, error) {
	waits := runWaits(set, wf)
	out := make(map[string]*workflows.Resume, len(given))
	by := map[string]string{} // by label: the name given for it
	for _, name := range slices.Sorted(maps.Keys(given)) {
		label := ""
		for _, w := range waits {
			if w.label == name {
				label = w.label
				break
			}
		}
		for _, w := range waits {
			if label == "" && w.name == name {
				label = w.label
			}
		}
		if label == "" {
			return nil, badFlag("resume", " %s: %s", name, noWaitStep(set, wf, name, waits))
		}
		if other, dup := by[label]; dup {
			return nil, usage("--resume %s and --resume %s resume the same wait step, %s: a wait is resumed once", other, name, label)
		}
		by[label] = name
		out[label] = given[name]
	}
	return out, nil
}

// noWaitStep says that a run of wf has no wait step named name, and which it has
// instead: the nearest, or all of them when name names a step of another kind, or an
// item's child run, or is near none.
func noWaitStep(set *workflows.Set, wf *workflows.Workflow, name string, waits []runWait) string {
	names := make([]string, len(waits))
	for i, w := range waits {
		names[i] = w.name
	}
	var s *workflows.Step
	for _, rs := range runSteps(set, wf) {
		if rs.label == name || asWritten(rs) == name {
			s = rs.step
			break
		}
	}
	of := "workflow " + wf.Name
	if strings.Contains(strings.TrimPrefix(name, workflows.OnFailurePrefix), "/") {
		of = "a run of " + wf.Name
	}
	all := withoutItems(name)
	switch {
	case s == nil && all != name && slices.Contains(names, all):
		return fmt.Sprintf("%q names a wait step of the child run of one item; the child runs of every item are resumed alike, as tests name them: --resume %s resumes each", name, all)
	case s == nil:
		return fmt.Sprintf("%s has no wait step %q; %s", of, name, others(name, names))
	case len(waits) == 0:
		return fmt.Sprintf("step %q of %s is a %s step, and a run of %s reaches no wait step", name, of, s.Kind, wf.Name)
	}
	return fmt.Sprintf("step %q of %s is a %s step, not a wait step; its wait steps are: %s",
		name, of, s.Kind, strings.Join(names, ", "))
}

// withoutItems is a step's name without the keys of the items on its way, as tests
// name the steps of every item's child run alike: invoices/create for
// invoices[2]/create.
func withoutItems(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if step, _, ok := strings.Cut(p, "["); ok && strings.HasSuffix(p, "]") {
			parts[i] = step
		}
	}
	return strings.Join(parts, "/")
}

// resumeBodies reads --resume: what resumes each named wait step, with query.
func (o *localRun) resumeBodies(stdin io.Reader, query url.Values) (map[string]*workflows.Resume, error) {
	out := map[string]*workflows.Resume{}
	for _, r := range o.resumes {
		step, v, ok := strings.Cut(r, "=")
		if !ok || step == "" || v == "" {
			return nil, badFlag("resume", " %q: write it as STEP=FILE or STEP=JSON, such as STEP='{…}' or STEP=true", r)
		}
		if _, dup := out[step]; dup {
			return nil, badFlag("resume", " %s: given twice; a wait is resumed once", step)
		}
		ct, data := "application/json", []byte(v)
		if !inlineJSON(v) {
			var err error
			if data, err = readInput("resume", " "+step, v, stdin); err != nil {
				return nil, err
			}
			if ct = contentTypeOf(v); v == "-" && !json.Valid(data) {
				ct = "text/plain; charset=utf-8"
			}
		}
		res, err := workflows.NewResume(ct, data, nil, query)
		if err != nil {
			return nil, badFlag("resume", " %s: %v", step, err)
		}
		out[step] = res
	}
	return out, nil
}

// event reads the event body named by --event, with its content type and headers.
func (o *localRun) event(stdin io.Reader) (*workflows.Event, error) {
	ev := &workflows.Event{ID: id.New(), Trigger: "manual", ReceivedAt: time.Now().UTC(),
		ContentType: "application/json", Raw: "{}", Headers: map[string]string{}}
	if o.eventFile != "" {
		data, err := readInput("event", "", o.eventFile, stdin)
		if err != nil {
			return nil, err
		}
		ev.Raw = string(data)
		ev.ContentType = contentTypeOf(o.eventFile)
	}
	if o.contentType != "" {
		if _, _, err := mime.ParseMediaType(o.contentType); err != nil {
			return nil, usage("--content-type %q: %v", o.contentType, err)
		}
		ev.ContentType = o.contentType
	}
	for _, p := range o.params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, badFlag("param", " %q: write it as NAME=VALUE, such as id=42", p)
		}
		if ev.Params == nil {
			ev.Params = map[string]string{}
		}
		if before, twice := ev.Params[name]; twice {
			return nil, badFlag("param", " %s given twice (%q, then %q): a segment has one value", name, before, value)
		}
		ev.Params[name] = value
	}
	var headers []string
	for _, h := range o.headers {
		if file, ok := strings.CutPrefix(h, "@"); ok { // a file of them, one per line, as curl -H @file reads
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, usage("--header: %v", err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					headers = append(headers, line)
				}
			}
			continue
		}
		headers = append(headers, h)
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, usage("--header %q: write it as \"Name: value\", or @FILE for a file of them", h)
		}
		name = strings.TrimSpace(name)
		ev.Headers[strings.ToLower(name)] = workflows.KeptHeader(name, strings.TrimSpace(value))
	}
	if ct := ev.Headers["content-type"]; ct != "" && o.contentType == "" && o.eventFile != "" {
		ev.ContentType = ct // the headers' own, as a webhook would read it
	}
	if ev.Headers["content-type"] == "" {
		ev.Headers["content-type"] = ev.ContentType
	}
	if mt, _, _ := mime.ParseMediaType(ev.ContentType); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		// An editor ends a file with a line break a sender would not send: a form's last
		// value or a text must not carry it.
		ev.Raw = strings.TrimSuffix(strings.TrimSuffix(ev.Raw, "\n"), "\r")
	}
	body, err := workflows.ParseBody(ev.ContentType, []byte(ev.Raw))
	if err != nil {
		return nil, badFlag("event", " %s: %v", o.eventFile, err)
	}
	ev.Body = body
	return ev, nil
}

// shapeEvent makes the event the one the workflow's first trigger would make: a
// webhook's request (of the webhook its params pick, see pickWebhook, which checks
// them first), a tick of its schedule when it has no webhook and no event was given,
// or a poll's new item.
func shapeEvent(ev *workflows.Event, wf *workflows.Workflow) {
	triggerKinds.LocalEvent(wf, ev, !triggers.NoEvent(ev.Raw))
}

// triggerKinds are the trigger kinds hookflow has.
var triggerKinds = triggers.Default()

// readInput reads what flag (its name, without --) names: a file, or standard input
// for "-", up to the largest body a webhook takes. what follows the flag's name in an
// error: "" or " STEP".
func readInput(flag, what, name string, stdin io.Reader) ([]byte, error) {
	const limit = triggers.MaxBodyLimit
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, badFlag(flag, "%s: %v", what, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, flagFailed(flag, "%s %s: %w", what, name, err)
	}
	if len(data) > limit {
		return nil, badFlag(flag, "%s %s: larger than %d bytes", what, name, limit)
	}
	return data, nil
}

// inlineJSON reports whether v, the value of a flag that takes a file or inline JSON,
// is inline JSON: an object or an array, or, when no file has that name, any other
// JSON value (true, 42, "yes", null), which is seldom a file's name and never one
// meant when no such file exists.
func inlineJSON(v string) bool {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return true
	}
	if !json.Valid([]byte(t)) {
		return false
	}
	_, err := os.Stat(v)
	return errors.Is(err, fs.ErrNotExist)
}

// contentTypeOf gives an event file's content type by its extension; JSON otherwise.
func contentTypeOf(name string) string {
	if ct := workflows.FileContentType(name); ct != "" {
		return ct
	}
	return "application/json"
}

// writeHeaders writes headers as dry runs and tests show a request's: sorted, one a
// line after indent, each as the run history shows it (workflows.ShownHeader): a
// credential's value hidden but for its scheme, the others passed through redact.
func writeHeaders(b *strings.Builder, h http.Header, indent string, redact func(string) string) {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		value := workflows.ShownHeader(name, strings.Join(h.Values(name), ", "), redact)
		fmt.Fprintf(b, "%s%s: %s\n", indent, name, value)
	}
}

// localEngine runs set on this machine, on the embedded Redis with 8 workers, as the
// dry run and tests do, with the engine options o (its Logger and Kinds are log and
// k); stop stops the workers, then the Redis.
func localEngine(ctx context.Context, set *workflows.Set, k *workflows.Kinds, log *slog.Logger,
	o engine.Options) (*engine.Engine, redis.UniversalClient, func(), error) {
	rdb, _, closeRedis, err := openRedis(ctx, "", redisTLS{}, 8, log)
	if err != nil {
		return nil, nil, nil, err
	}
	o.Logger, o.Kinds = log, k
	eng := engine.New(rdb, o)
	eng.Use(set)
	pool := eng.NewPool(8)
	pool.Start()
	return eng, rdb, func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pool.Stop(stopCtx)
		closeRedis()
	}, nil
}
