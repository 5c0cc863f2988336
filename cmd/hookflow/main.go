// Command hookflow runs declarative integration workflows: webhooks and schedules in,
// chains of API calls out, executed through a Redis queue.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses, documented in hookflow --help and docs/cli.md.
const (
	exitOK      = 0 // done; for serve and worker, stopped cleanly by a signal
	exitFailed  = 1 // the command ran and failed: invalid workflows, a failed run, an error answer
	exitUsage   = 2 // the command line is wrong: unknown command or flag, bad value, missing argument, a --redis Redis refuses
	exitNoReach = 3 // Redis or the admin API cannot be reached
)

// errUsage is returned for a command line that cannot be run, once reported.
var errUsage = errors.New("usage")

// errInterrupted ends a command that SIGINT or SIGTERM cut short: exit status 1, as
// docs/cli.md says.
var errInterrupted = errors.New("interrupted")

// exitError carries an exit status for a failure that has already been reported.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := notifySignals()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// exitStatus reports err, unless that was done, and gives the process's exit status.
func exitStatus(err error, stderr io.Writer) int {
	stderr = termSafe(stderr) // an error may quote what a run was sent or answered
	var code exitError
	var unreachable *unreachableError
	var mismatch *mismatchError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &mismatch):
		fmt.Fprintln(stderr, "hookflow:", err)
		return exitUsage
	case errors.As(err, &unreachable):
		fmt.Fprintln(stderr, "hookflow:", err)
		return exitNoReach
	}
	fmt.Fprintln(stderr, "hookflow:", err)
	return exitFailed
}

// mismatchError is a value that parses but that the Redis refuses (a --redis URL's
// password or database, refusedURL) or disagrees with what the processes sharing it
// use (--shards): exit status 2, as for a bad value, since the command line must
// change; but reported plainly, as the command's usage would not help.
type mismatchError struct{ err error }

func (e *mismatchError) Error() string { return e.err.Error() }
func (e *mismatchError) Unwrap() error { return e.err }

// unreachableError is a failure to reach Redis or the admin API: exit status 3, so a
// script can tell "try again later" from "this is wrong".
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// run runs the command line args. It returns nil, errUsage or an exitError once it has
// reported what went wrong, or an error for the caller to report.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(testFlagSpelling(args))
	cmd, err := root.ExecuteContextC(ctx)
	if stray := strayArgs(cmd); err == nil && len(stray) > 0 {
		err = needSubcommand(cmd, stray) // with --help: its help was not shown
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) && cmd != nil {
		// SIGINT or SIGTERM ended a call or a wait, whose error says only "context
		// canceled", and is no failure to reach anything (exit status 3).
		return fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), errInterrupted)
	}
	var bad *flagError
	if errors.As(err, &bad) && cmd != nil {
		bad.name = flagSource(cmd, bad.flag)
	}
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), usage.err, cmd.CommandPath())
		return errUsage
	}
	return err
}
