package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `hookflow runs integration workflows written in HCL: webhooks and schedules start
runs, and each run's steps call APIs through a Redis queue.

Every flag can also be set in the environment as HOOKFLOW_<FLAG>: HOOKFLOW_REDIS for
--redis, HOOKFLOW_ALLOW_NET for --allow-net (a list, comma-separated). The command
line wins over the environment.

Exit status:
  0  done (serve and worker: stopped by SIGINT or SIGTERM, cleanly)
  1  the command failed: invalid workflows, a failed run, fmt --check found changes,
     an error answered by the admin API
  2  the command line is wrong: unknown command or flag, bad value, missing argument
  3  Redis or the admin API cannot be reached`

// newRootCommand builds the command tree.
func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "hookflow",
		Short: "Run integration workflows written in HCL",
		Long:  rootLong,
		Example: `  hookflow serve examples/quickstart
  hookflow validate workflows/
  hookflow run --event event.json --dry-run order_paid
  hookflow runs list --status failed`,
		Version:       version(),
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Flags given after the command's arguments are still flags: serve DIR --redis URL.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return flagsFromEnv(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
				return errUsage
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usage("%s", msg)
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddGroup(&cobra.Group{ID: "run", Title: "Running workflows:"},
		&cobra.Group{ID: "author", Title: "Writing workflows:"},
		&cobra.Group{ID: "operate", Title: "Operating a running hookflow (through its admin API):"},
		&cobra.Group{ID: "other", Title: "Other commands:"})
	root.AddCommand(
		serveCommand(), workerCommand(),
		validateCommand(), fmtCommand(), runCommand(),
		workflowsCommand(), runsCommand(), dlqCommand(),
		versionCommand(),
	)
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	documentEnv(root)
	return root
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// maxArgs accepts at most n arguments, and exactArgs exactly n; both say so as a usage
// error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usage("takes at most %d argument%s, got %q", n, plural(n), args)
		}
		return nil
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usage("takes %d argument%s (%s), got %d", n, plural(n), cmd.Use[strings.IndexByte(cmd.Use, ' ')+1:], len(args))
		}
		return nil
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// envAliases are further environment names a flag reads, after HOOKFLOW_<FLAG>.
var envAliases = map[string][]string{
	"redis": {"HOOKFLOW_REDIS_URL"},
}

// envName is the environment twin of a flag: --allow-net is HOOKFLOW_ALLOW_NET.
func envName(flag string) string {
	return "HOOKFLOW_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv gives every flag of cmd that the command line did not set its value
// from the environment, if there.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		for _, name := range append([]string{envName(f.Name)}, envAliases[f.Name]...) {
			v, ok := os.LookupEnv(name)
			if !ok {
				continue
			}
			if e := setFromEnv(f, v); e != nil {
				err = usage("%s=%q: %v", name, v, e)
			}
			return
		}
	})
	return err
}

// setFromEnv sets f to an environment value: a list flag takes a comma-separated list.
func setFromEnv(f *pflag.Flag, v string) error {
	if _, ok := f.Value.(*prefixList); ok {
		for _, part := range strings.Split(v, ",") {
			if err := f.Value.Set(part); err != nil {
				return err
			}
		}
		return nil
	}
	return f.Value.Set(v)
}

// documentEnv adds each flag's environment name to its help.
func documentEnv(root *cobra.Command) {
	seen := map[*pflag.Flag]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if seen[f] || f.Name == "help" || f.Name == "version" {
					return
				}
				seen[f] = true
				names := "$" + envName(f.Name)
				for _, alias := range envAliases[f.Name] {
					names += ", $" + alias
				}
				f.Usage += " [" + names + "]"
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
