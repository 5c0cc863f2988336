// Command hookflow runs declarative integration workflows: webhooks and schedules in,
// chains of API calls out, executed through a Redis queue.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `hookflow runs integration workflows written in HCL.

Usage:
  hookflow serve [flags] [DIR]     receive webhooks and run workflows from DIR (default .)
  hookflow worker --redis URL [DIR]  run steps only, sharing a Redis with serve processes
  hookflow validate [DIR]          check the workflows in DIR; exit 1 on errors
  hookflow fmt [--check] [PATH]    format workflow files canonically

Run "hookflow COMMAND -h" for a command's flags. Every flag can also be set in the
environment as HOOKFLOW_<FLAG>, e.g. HOOKFLOW_REDIS=redis://localhost:6379.
`

// errUsage is returned for a command line that cannot be run; it exits with status 2.
var errUsage = errors.New("usage")

// exitError carries an exit status for a failure that has already been reported.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitError
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "hookflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stderr)
	case "worker":
		return workerCommand(ctx, args[1:], stderr)
	case "validate":
		return validateCommand(args[1:], stdout, stderr)
	case "fmt":
		return fmtCommand(args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "hookflow: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
