package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/shellquote"
	"github.com/hookflow/hookflow/workflows"
)

// adminCommand is a command that calls the admin API: it gets --admin and --json.
type adminCommand struct {
	addr   string
	asJSON bool
}

func (a *adminCommand) flags(cmd *cobra.Command) {
	adminFlag(cmd, &a.addr)
	cmd.PersistentFlags().BoolVar(&a.asJSON, "json", false, "print the admin API's JSON answer instead of a table")
}

// get calls the admin API and prints its answer: as JSON with --json, otherwise
// decoded into out and shown by text.
func (a *adminCommand) get(cmd *cobra.Command, method, path string, body []byte, out any, text func(io.Writer) error) error {
	c, err := newAdminClient(a.addr)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.call(cmd.Context(), method, path, body, &raw); err != nil {
		return err
	}
	if a.asJSON {
		return printJSON(termSafe(cmd.OutOrStdout()), raw)
	}
	// Numbers as written: an id or an amount past 2^53 is shown whole, not rounded.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("the admin API answered something that is not hookflow's JSON: %w", err)
	}
	return text(termSafe(cmd.OutOrStdout()))
}

func runsCommand() *cobra.Command {
	var a adminCommand
	cmd := &cobra.Command{
		Use:     "runs",
		GroupID: "operate",
		Short:   "List, show, replay, cancel and start runs",
		Long: `runs reads the run history of a running hookflow serve through its admin API
(--admin, default ` + defaultAdmin + `), replays failed runs, cancels unfinished ones and
starts new ones.`,
		Example: `  hookflow runs list --workflow order_paid --status failed
  hookflow runs show 01jd3wz2q7t5
  hookflow runs replay 01jd3wz2q7t5
  hookflow runs cancel 01jd3wz2q7t5
  hookflow runs start order_paid --event event.json
  hookflow runs export-test 01jd3wz2q7t5 -o order_paid.test.hcl`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	a.flags(cmd)
	cmd.AddCommand(runsListCommand(&a), runsShowCommand(&a), runsReplayCommand(&a), runsCancelCommand(&a), runsResumeCommand(&a), runsStartCommand(&a), runsExportTestCommand(&a))
	return cmd
}

func runsListCommand(a *adminCommand) *cobra.Command {
	var workflow, status, cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Long: `list shows runs, newest first, a page at a time: when there are more, it ends with
the command for the next page.`,
		Example: `  hookflow runs list
  hookflow runs list --workflow order_paid --status failed --limit 200
  hookflow runs list --json | jq -r '.runs[].id'`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || limit > engine.MaxLimit {
				return badFlag("limit", " %d: give how many runs a page holds, from 1 to %d (0: 50)", limit, engine.MaxLimit)
			}
			q := url.Values{}
			for k, v := range map[string]string{"workflow": workflow, "status": status, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			path := "/runs"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var page engine.RunPage
			return a.get(cmd, "GET", path, nil, &page, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tCREATED\tDURATION\tERROR")
				for _, r := range page.Runs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Status,
						r.CreatedAt.Local().Format(time.DateTime), millis(r.DurationMS), errorLine(r.Error, 80))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				switch {
				case len(page.Runs) == 0 && page.Next != "":
					// A status filter reads a share of the history a page: older runs may match.
					fmt.Fprintln(w, "(none among the runs this page read; older runs may match: see the next page)")
				case len(page.Runs) == 0 && workflow != "":
					if hint := a.notInUse(cmd.Context(), workflow); hint != "" {
						fmt.Fprintf(w, "(no runs; no workflow %q is in use: %s)\n", workflow, hint)
					} else {
						fmt.Fprintln(w, "(no runs)")
					}
				case len(page.Runs) == 0:
					fmt.Fprintln(w, "(no runs)")
				}
				if page.Next != "" {
					fmt.Fprintf(w, "more: %s\n", nextPage(cmd, page.Next))
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&workflow, "workflow", "", "only runs of this workflow")
	fs.Var(newOneOf(&status, "", engine.Statuses...), "status", "only runs with this status: "+strings.Join(engine.Statuses, ", "))
	fs.IntVar(&limit, "limit", 0, "runs per page (default 50, at most 500)")
	fs.StringVar(&cursor, "cursor", "", "where to go on from: the cursor a previous page ended with")
	return cmd
}

func runsShowCommand(a *adminCommand) *cobra.Command {
	return &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run: its event and what each step sent and got back",
		Example: `  hookflow runs show 01jd3wz2q7t5
  hookflow runs show --json 01jd3wz2q7t5 | jq '.steps[] | {name, status, error}'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			var run engine.Run
			return a.get(cmd, "GET", "/runs/"+url.PathEscape(args[0]), nil, &run, func(w io.Writer) error {
				printRun(w, &run, true)
				return nil
			})
		},
	}
}

func runsReplayCommand(a *adminCommand) *cobra.Command {
	var current bool
	cmd := &cobra.Command{
		Use:   "replay RUN",
		Short: "Replay a failed run from the step it failed on",
		Long: `replay runs a failed run again from the step it failed on, with the run's workflow
version (the one it started with, unless a replay with --current moved it); the
steps that succeeded do not run again.

With --current it runs with the version of the workflow in use now instead: a run
that failed on a bug of its workflow goes on with the fixed file. The steps that
succeeded keep their results; from the failed step on, the run follows the version
in use, and stays on it. It is refused when that version no longer has the failed
step.`,
		Example: `  hookflow runs replay 01jd3wz2q7t5
  hookflow runs replay --current 01jd3wz2q7t5`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			var out engine.Replayed
			return a.get(cmd, "POST", "/runs/"+url.PathEscape(args[0])+"/replay"+versionQuery(current), nil, &out, func(w io.Writer) error {
				return queuedAgain(w, &out)
			})
		},
	}
	currentFlag(cmd, &current)
	return cmd
}

func runsCancelCommand(a *adminCommand) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run that has not finished",
		Long: `cancel ends a run that has not finished, queued, running or waiting (a delay, a
retry, a concurrency slot): it is recorded as cancelled and nothing more of it runs.
A step running is cancelled by its worker at its next heartbeat, and its request is
abandoned. The workflow's on_failure steps do not run. A run that failed and is
running its on_failure steps has them cancelled, and stays failed, with its dead
letter to replay. A run that has finished cannot be cancelled (409).`,
		Example: `  hookflow runs cancel 01jd3wz2q7t5`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			var out engine.Cancelled
			return a.get(cmd, "POST", "/runs/"+url.PathEscape(args[0])+"/cancel", nil, &out, func(w io.Writer) error {
				if out.Status == engine.RunFailed {
					_, err := fmt.Fprintf(w, "run %s: its on_failure steps cancelled; it stays failed, and its dead letter can be replayed: hookflow runs replay %s\n", out.RunID, out.RunID)
					return err
				}
				_, err := fmt.Fprintf(w, "run %s cancelled (it was %s)\n", out.RunID, out.Was)
				return err
			})
		},
	}
}

func runsResumeCommand(a *adminCommand) *cobra.Command {
	var body string
	var query []string
	cmd := &cobra.Command{
		Use:   "resume RUN STEP [--body BODY] [--query NAME=VALUE ...]",
		Short: "Resume a run's wait step, as a POST to its resume URL would",
		Long: `resume makes the wait step STEP of RUN go on, with the JSON in --body (inline, or
- for standard input; default: no body) as steps.STEP.body, and each --query
NAME=VALUE as steps.STEP.query.NAME, as a resume URL's ?NAME=VALUE. A run that has not
reached the step yet goes on past it when it does. A wait is resumed once: a second
resume is refused (409), and so is one after it timed out (404). With --json, it
prints the admin API's answer, as the other commands do.`,
		Example: `  hookflow runs resume 01jd3wz2q7t5 approval --body '{"approved": true}'
  hookflow runs resume 01jd3wz2q7t5 approval --query decision=approve
  hookflow runs resume 01jd3wz2q7t5 approval`,
		Args: func(cmd *cobra.Command, args []string) error {
			// --json once took the body: "--json '{…}'" now reads as the output switch
			// and a third argument, which would be refused without saying why.
			if len(args) == 3 && cmd.Flags().Changed("json") {
				return usage("--json prints the admin API's answer as JSON and takes no value; give the resume's body with --body %s", shellquote.Word(args[2]))
			}
			return exactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			var data []byte
			switch body {
			case "":
			case "-":
				var err error
				if data, err = readInput("body", "", "-", cmd.InOrStdin()); err != nil {
					return err
				}
			default:
				data = []byte(body)
			}
			if len(data) > 0 && !json.Valid(data) {
				return badFlag("body", ": not JSON: %s", oneLine(string(data), 60))
			}
			q, err := queryFlag(query)
			if err != nil {
				return err
			}
			var out engine.Resumed
			path := "/runs/" + url.PathEscape(args[0]) + "/resume/" + url.PathEscape(args[1])
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			return a.get(cmd, "POST", path, data, &out, func(w io.Writer) error {
				if out.Waiting {
					_, err := fmt.Fprintf(w, "run %s resumed at step %s\n", out.RunID, out.Step)
					return err
				}
				_, err := fmt.Fprintf(w, "run %s will go past step %s when it gets there: the resume is kept for it\n", out.RunID, out.Step)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&body, "body", "", "the resume's `BODY`, JSON, or - for standard input")
	cmd.Flags().StringArrayVar(&query, "query", nil, "a query parameter of the resume, `NAME=VALUE`, read as steps.STEP.query.NAME (repeatable)")
	return cmd
}

func runsExportTestCommand(a *adminCommand) *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "export-test RUN [--name NAME] [-o FILE]",
		Short: "Write a finished run as a workflow test (*.test.hcl)",
		Long: `export-test writes a run from the history as a test that hookflow test runs: the
run's event, each http step's recorded answers as mocks (one per item of a for_each
step, a sequence of responses for a step tried more than once), each request as an
expect, and expect_run with how the run ended. Exported from a failed run, then the
workflow fixed, it is a regression test: change expect_run to "succeeded" and the
expects to what the fixed workflow should send.

The file holds no secret: what the history redacts, the event's credential headers
and fields, and what derives from the old run's id (its Idempotency-Keys, a URL that
names the run) are left out of the expects, each said in a comment. What env() read
where the run was served is written as hookflow test reads it, its default: tests
read no environment. Write it beside the workflow as NAME.test.hcl. A run that has
not finished, or was cancelled, cannot be exported (409).`,
		Example: `  hookflow runs export-test 01jd3wz2q7t5
  hookflow runs export-test 01jd3wz2q7t5 --name "a refund over the limit" -o workflows/refund.test.hcl`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			if out != "" && !workflows.IsTestFile(out) {
				return usage("-o %s: a test file's name ends in %s, or hookflow test does not read it", out, workflows.TestSuffix)
			}
			if out != "" {
				// Checked before the run is asked for, as test does its --junit.
				if err := checkPaths("output", filepath.Dir(out)); err != nil {
					return err
				}
			}
			c, err := newAdminClient(a.addr)
			if err != nil {
				return err
			}
			path := "/runs/" + url.PathEscape(args[0]) + "/test"
			if name != "" {
				path += "?name=" + url.QueryEscape(name)
			}
			var raw json.RawMessage
			if err := c.call(cmd.Context(), "GET", path, nil, &raw); err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			if err := os.WriteFile(out, raw, 0o644); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; run it with: hookflow test %s\n", out, out)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the test's `name` (default: one made of the run's id)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the test to this `file` instead of standard output")
	return cmd
}

// checkIDs refuses, before any request, an argument of cmd that no run, step, dead
// letter or workflow is named by, and that would make its URL another one: empty
// (/runs/ is the list), . or .. (/runs/.. is /), or with a control character. Any
// other text may be an id: a child run's is RUN:STEP:KEY, KEY any text of a
// for_each item. Each goes into the URL path-escaped.
func checkIDs(cmd *cobra.Command, args []string) error {
	names := strings.Fields(cmd.Use)[1:] // "show RUN": RUN
	for i, v := range args {
		what := "the argument"
		if i < len(names) {
			what = names[i]
		}
		switch {
		case strings.TrimSpace(v) == "":
			return usage("%s is empty", what)
		case v == "." || v == "..":
			return usage("%s %q is no id or name", what, v)
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			return usage("%s %q holds a control character", what, v)
		}
	}
	return nil
}

// currentFlag adds --current to a command that replays a run.
func currentFlag(cmd *cobra.Command, current *bool) {
	cmd.Flags().BoolVar(current, "current", false, "replay with the workflow version in use now, not the one the run started with")
}

// versionQuery is the query of a replay: with the version in use, or the run's own.
func versionQuery(current bool) string {
	if current {
		return "?version=current"
	}
	return ""
}

func runsStartCommand(a *adminCommand) *cobra.Command {
	var eventFile string
	cmd := &cobra.Command{
		Use:   "start WORKFLOW",
		Short: "Start a run of a workflow now, with a JSON event",
		Long: `start queues a run of a workflow loaded by the running hookflow, as its admin API's
manual start does: the JSON in --event (a file, or - for standard input; default {})
is event.body, and event.trigger is "manual". The workflow's filter does not apply.
A workflow whose triggers are only schedules, started with no event (or {}), gets
its latest tick's event body, {schedule, scheduled_at, catch_up}, as hookflow run
makes it: run now as a tick would.`,
		Example: `  hookflow runs start order_paid --event event.json
  echo '{"id": "ord_1"}' | hookflow runs start order_paid --event -`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			body := []byte("{}")
			if eventFile != "" {
				var err error
				if body, err = readInput("event", "", eventFile, cmd.InOrStdin()); err != nil {
					return err
				}
				if !json.Valid(body) {
					return badFlag("event", " %s: the event of a manual start must be JSON", eventFile)
				}
			}
			var out struct {
				RunID     string `json:"run_id"`
				StatusURL string `json:"status_url"`
			}
			err := a.get(cmd, "POST", "/workflows/"+url.PathEscape(args[0])+"/runs", body, &out, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "run %s queued; follow it with: hookflow runs show %s\n", out.RunID, out.RunID)
				return err
			})
			var refused *apiError
			if errors.As(err, &refused) && refused.Status == http.StatusNotFound {
				return a.unknownWorkflow(cmd.Context(), args[0], err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&eventFile, "event", "", "`file` holding the event's JSON body, or - for standard input")
	return cmd
}

// unknownWorkflow adds to err, the admin API's answer that it has no workflow name,
// the workflow it has that was meant, or those it has.
func (a *adminCommand) unknownWorkflow(ctx context.Context, name string, err error) error {
	if hint := a.notInUse(ctx, name); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	return err
}

// notInUse says, when the admin API has no workflow name in use, which of those it
// has was meant, or which it has; "" when it has name, or cannot say.
func (a *adminCommand) notInUse(ctx context.Context, name string) string {
	c, err := newAdminClient(a.addr)
	if err != nil {
		return ""
	}
	var list struct {
		Workflows []struct {
			Name string `json:"name"`
		} `json:"workflows"`
	}
	if c.call(ctx, "GET", "/workflows", nil, &list) != nil {
		return ""
	}
	names := make([]string, len(list.Workflows))
	for i, wf := range list.Workflows {
		if wf.Name == name {
			return ""
		}
		names[i] = wf.Name
	}
	return others(name, names)
}

func dlqCommand() *cobra.Command {
	var a adminCommand
	cmd := &cobra.Command{
		Use:     "dlq",
		GroupID: "operate",
		Short:   "List and retry dead letters: runs whose step failed for good",
		Long: `dlq reads the dead letters of a running hookflow serve through its admin API
(--admin, default ` + defaultAdmin + `): one per failed run, naming the step that failed.
Retrying one replays its run from that step.`,
		Example: `  hookflow dlq list
  hookflow dlq retry 01jd3wz2q7t5:charge`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	a.flags(cmd)
	var limit int
	var cursor, runID string
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, newest first",
		Long: `list shows dead letters, newest first, a page at a time: when there are more, it
ends with the command for the next page. With --run, it shows the dead letters of that
run alone, however many others died since.`,
		Example: `  hookflow dlq list --limit 20
  hookflow dlq list --run 01jd3wz2q7t5
  hookflow dlq list --json | jq -r '.dead_letters[].id'`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || limit > engine.MaxLimit {
				return badFlag("limit", " %d: give how many dead letters a page holds, from 1 to %d (0: 50)", limit, engine.MaxLimit)
			}
			q := url.Values{}
			if cmd.Flags().Changed("run") || runID != "" { // HOOKFLOW_DLQ_LIST_RUN sets it unchanged
				if cmd.Flags().Changed("limit") || cmd.Flags().Changed("cursor") {
					return usage("--run lists one run's dead letters, all of them: it takes no --limit or --cursor")
				}
				if err := checkIDs(&cobra.Command{Use: "list RUN"}, []string{runID}); err != nil {
					return err
				}
				q.Set("run", runID)
				limit, cursor = 0, "" // a page's, set in the environment
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			path := "/dlq"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var out engine.DeadLetterPage
			return a.get(cmd, "GET", path, nil, &out, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tWORKFLOW\tSTEP\tATTEMPTS\tDEAD AT\tERROR")
				for _, d := range out.DeadLetters {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Workflow, d.Step, deadAttempts(d),
						d.DeadAt.Local().Format(time.DateTime), errorLine(d.Error, 80))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				switch {
				case len(out.DeadLetters) == 0 && runID != "":
					fmt.Fprintf(w, "(no dead letters of run %s)\n", runID)
				case len(out.DeadLetters) == 0:
					fmt.Fprintln(w, "(no dead letters)")
				}
				if out.Next != "" {
					fmt.Fprintf(w, "more: %s\n", nextPage(cmd, out.Next))
				}
				return nil
			})
		},
	}
	list.Flags().IntVar(&limit, "limit", 0, "dead letters per page (default 50, at most 500)")
	list.Flags().StringVar(&cursor, "cursor", "", "where to go on from: the cursor a previous page ended with")
	list.Flags().StringVar(&runID, "run", "", "list the dead letters of this run alone")
	var current bool
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Replay a dead letter's run from its failed step",
		Long: `retry replays a dead letter's run from its failed step, as runs replay does: with
the run's workflow version, or with --current the version in use now.
ID is a dead letter's id, as dlq list shows it, or RUN:STEP: the dead letter of a
for_each step or a parallel block is its join's, RUN:STEP:join, and RUN:STEP names it
too. When the run has no dead letter of STEP, the error names those it has.`,
		Example: `  hookflow dlq retry 01jd3wz2q7t5:charge
  hookflow dlq retry --current 01jd3wz2q7t5:charge`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIDs(cmd, args); err != nil {
				return err
			}
			var out engine.Replayed
			return a.get(cmd, "POST", "/dlq/"+url.PathEscape(args[0])+"/retry"+versionQuery(current), nil, &out, func(w io.Writer) error {
				return queuedAgain(w, &out)
			})
		},
	}
	currentFlag(retry, &current)
	cmd.AddCommand(list, retry)
	return cmd
}

// deadAttempts is a dead letter's attempts as dlq list shows them: for the join of a
// for_each step or a parallel block, those of the item or step that failed it, named
// ("5 (reserve[2])").
func deadAttempts(d engine.DeadLetter) string {
	if d.Failed == "" {
		return strconv.Itoa(d.Attempts)
	}
	return fmt.Sprintf("%d (%s)", d.Attempts, d.Failed)
}

func workflowsCommand() *cobra.Command {
	var a adminCommand
	cmd := &cobra.Command{
		Use:     "workflows",
		GroupID: "operate",
		Short:   "List the workflows a running hookflow serves",
		Long: `workflows lists the workflows that a running hookflow serve has in use, with
their triggers, through its admin API (--admin, default ` + defaultAdmin + `). When
the files on disk have errors, it says so on standard error: the workflows listed are
the ones loaded before (hookflow status shows the errors).`,
		Example: `  hookflow workflows
  hookflow workflows --admin 10.0.0.5:8081 --json`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Workflows []struct {
					Name     string           `json:"name"`
					Version  string           `json:"version"`
					File     string           `json:"file"`
					Triggers []map[string]any `json:"triggers"`
					Steps    []struct{}       `json:"steps"`
				} `json:"workflows"`
			}
			err := a.get(cmd, "GET", "/workflows", nil, &out, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tTRIGGERS\tSTEPS\tVERSION\tFILE")
				for _, wf := range out.Workflows {
					var ts []string
					for _, t := range wf.Triggers {
						ts = append(ts, triggerText(t))
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", wf.Name, strings.Join(ts, ", "), len(wf.Steps), wf.Version, wf.File)
				}
				return tw.Flush()
			})
			if err != nil {
				return err
			}
			if c, err := newAdminClient(a.addr); err == nil {
				brokenFiles(cmd.Context(), c, cmd.ErrOrStderr())
			}
			return nil
		},
	}
	a.flags(cmd)
	return cmd
}

// queuedAgain says that a replayed run is queued, with which version, and how to
// follow it; when the workflow changed since, that --current would run the new one.
func queuedAgain(w io.Writer, r *engine.Replayed) error {
	fmt.Fprintf(w, "run %s queued again from %s with version %s; follow it with: hookflow runs show %s\n",
		r.RunID, strings.Join(r.From, ", "), r.Version, r.RunID)
	if r.CurrentVersion != "" {
		fmt.Fprintf(w, "the workflow changed since this run started (version %s is in use); if it failed on a bug of the workflow, replay with --current to run the fixed version: hookflow runs replay --current %s\n",
			r.CurrentVersion, r.RunID)
	}
	return nil
}

// nextPage is the command line that lists the page after this one: this one's flags,
// with the cursor the page ended with.
func nextPage(cmd *cobra.Command, cursor string) string {
	line := cmd.CommandPath()
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "cursor" {
			line += " --" + f.Name + " " + shellquote.Word(f.Value.String())
		}
	})
	return line + " --cursor " + shellquote.Word(cursor)
}

// triggerText is a trigger as the workflow list shows it: its text ("POST
// /hooks/orders", "cron 0 9 * * * Europe/Paris", "every 1m"), else its kind; with,
// when its last attempt failed (a poll), how many times in a row and the last error
// (and the time before which no poll asks, when its API asked it to wait), else a
// schedule's (or a poll's) next tick, in its timezone (UTC when it sets none),
// else local time, with its offset (a failing poll's next try waits longer).
func triggerText(t map[string]any) string {
	text, _ := t["text"].(string)
	if text == "" {
		text = fmt.Sprint(t["kind"])
	}
	st, _ := t["state"].(map[string]any)
	failures, _ := st["failures"].(json.Number) // the answer is decoded with UseNumber
	if n, _ := failures.Int64(); n > 0 {
		wait := ""
		if t, err := time.Parse(time.RFC3339, fmt.Sprint(st["not_before"])); err == nil {
			wait = "; no poll before " + localTime(t) + " (Retry-After)"
		}
		text += fmt.Sprintf(" (failing, %d in a row: %s%s)", int(n), errorLine(fmt.Sprint(st["last_error"]), 80), wait)
	} else if next, err := time.Parse(time.RFC3339, fmt.Sprint(t["next"])); err == nil && !next.IsZero() {
		loc := time.Local
		if tz, ok := t["timezone"].(string); ok {
			if l, err := time.LoadLocation(tz); err == nil {
				loc = l
			}
		}
		text += " (next " + next.In(loc).Format(nextLayout) + ")"
	}
	return text
}

// nextLayout writes a trigger's next tick: its time and its offset from UTC, as
// 2026-12-05 02:30:00 +01:00.
const nextLayout = time.DateTime + " -07:00"

func millis(ms *int64) string {
	if ms == nil {
		return "-"
	}
	if *ms == 0 {
		return "<1ms"
	}
	return workflows.FormatDuration(time.Duration(*ms) * time.Millisecond)
}

// errorLine shortens an error to one line of at most n characters for a table. Its
// lines are joined, and a long one loses its middle, not its end, where the cause
// usually is: the start says which step, the end what went wrong, from a ": " on
// where one leaves room for the start ("step update: PA…status 404 Not Found, …").
// An expression's error ends with its source and a caret under the place, each line
// led by " | ": they are left out, as the cause is before them.
func errorLine(s string, n int) string {
	if i := strings.Index(s, "\n | "); i >= 0 {
		s = s[:i]
	}
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	const minHead = 12
	tail := n - n/3 - 1
	for i := 0; i+1 < len(r); i++ {
		if r[i] == ':' && r[i+1] == ' ' && len(r)-i-2 <= n-minHead-1 {
			tail = len(r) - i - 2
			break
		}
	}
	return strings.TrimRight(string(r[:n-tail-1]), " ") + "…" + string(r[len(r)-tail:])
}

// oneLine shortens s to one line of at most n characters.
func oneLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
