package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `hookflow runs integration workflows written in HCL: webhooks and schedules start
runs, and each run's steps call APIs through a Redis queue.

Every flag can also be set in the environment as HOOKFLOW_<FLAG>: HOOKFLOW_REDIS for
--redis, HOOKFLOW_ALLOW_NET for --allow-net (a list, comma-separated). A flag of one
command other than serve and worker is named after it too: HOOKFLOW_RUNS_LIST_STATUS.
Each flag's help names its variable; the command line wins over the environment.

Exit status:
  0  done (serve and worker: stopped by SIGINT or SIGTERM, cleanly)
  1  the command failed: invalid workflows, a failed run, fmt --check found changes,
     an error answered by the admin API; or SIGINT or SIGTERM interrupted it
  2  the command line is wrong: unknown command or flag, bad value, missing argument,
     a path that does not exist, a --shards other than the Redis's, or a --redis
     URL whose user, password or database the Redis refuses
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
		// Every command takes its flags' values from the environment first.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			defaultSignals(cmd)
			return flagsFromEnv(cmd)
		},
		RunE: needSubcommand,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagValueError(err) })
	root.AddGroup(&cobra.Group{ID: "run", Title: "Running workflows:"},
		&cobra.Group{ID: "author", Title: "Writing workflows:"},
		&cobra.Group{ID: "operate", Title: "Operating a running hookflow (through its admin API):"},
		&cobra.Group{ID: "other", Title: "Other commands:"})
	// The commands that end when their context does, at SIGINT or SIGTERM (signals.go).
	root.AddCommand(
		watchesSignals(serveCommand()), watchesSignals(workerCommand()),
		validateCommand(), fmtCommand(), watchesSignals(runCommand()), watchesSignals(testCommand()),
		watchesSignals(workflowsCommand()), watchesSignals(statusCommand()), watchesSignals(runsCommand()), watchesSignals(dlqCommand()),
		versionCommand(),
	)
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if len(strayArgs(c)) > 0 {
			return // no help, but an unknown command: run says so
		}
		help(c, args)
	})
	strictBuiltins(root)
	documentEnv(root)
	return root
}

// strictBuiltins makes cobra's help and completion commands refuse what they do not
// know as the others do, with exit status 2: cobra's help shows the root's help for an
// unknown topic, and its completion shows its help for an unknown shell, both with
// exit status 0, and a completion script given an argument fails with status 1.
func strictBuiltins(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Args = cobra.ArbitraryArgs
			c.Run = nil
			c.RunE = func(c *cobra.Command, args []string) error {
				cmd, rest, err := c.Root().Find(args)
				if err != nil || len(rest) > 0 {
					return usage("no help topic %q; the commands are listed by: hookflow help", strings.Join(args, " "))
				}
				return cmd.Help()
			}
		case "completion":
			var shells []string
			for _, shell := range c.Commands() {
				shell.Args = maxArgs(0)
				shells = append(shells, shell.Name())
			}
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return needSubcommand(c, args)
				}
				return usage("no completion for shell %q; there is for %s", args[0], strings.Join(shells, ", "))
			}
		}
	}
}

// strayArgs are the arguments cmd was given when it groups others, once its flags are
// parsed: the first names none of them (else cobra would have run that one). cobra
// shows the group's help for --help without a word about them, and exit status 0
// (runs follow --help); run reports them as needSubcommand does without --help.
func strayArgs(cmd *cobra.Command) []string {
	if cmd == nil || !cmd.HasSubCommands() || !cmd.Flags().Parsed() {
		return nil
	}
	return cmd.Flags().Args()
}

// needSubcommand runs a command that only groups others: without one, it prints its
// usage; with an unknown one, it says so and suggests the nearest.
func needSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
		return errUsage
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usage("%s", msg)
}

// others says which names there are instead of name, a workflow's or a step's: the
// nearest, when it is close enough to be a typo, else all of them.
func others(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(name, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("did you mean %q?", best)
	case len(names) == 0:
		return "there are none"
	}
	return "there are: " + strings.Join(names, ", ")
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// flagError is what is wrong with the value of one flag, or what went wrong using it.
// The value may have come from the environment, and the user must be told where to
// look: run names the variable then, once it knows the command (flagSource), and the
// flag otherwise.
type flagError struct {
	flag string // the flag's name, without --
	name string // what to call it, set by run: "--listen" or "HOOKFLOW_LISTEN"
	err  error  // what follows the name, with its separator: ": …" or " STEP: …"
}

func (e *flagError) Error() string {
	name := e.name
	if name == "" {
		name = "--" + e.flag
	}
	return name + e.err.Error()
}

func (e *flagError) Unwrap() error { return e.err }

// flagFailed is an error in using flag's value; format starts with the separator
// that follows the flag's name.
func flagFailed(flag, format string, args ...any) *flagError {
	return &flagError{flag: flag, err: fmt.Errorf(format, args...)}
}

// badFlag is a usage error in flag's value: exit status 2.
func badFlag(flag, format string, args ...any) error {
	return &usageError{flagFailed(flag, format, args...)}
}

// flagSource is how to name cmd's flag in a message: the environment variable its
// value came from, or --flag.
func flagSource(cmd *cobra.Command, flag string) string {
	if f := cmd.Flag(flag); f != nil {
		if env := f.Annotations[fromEnvAnnotation]; len(env) > 0 {
			return env[0]
		}
	}
	return "--" + flag
}

// maxArgs accepts at most n arguments, and exactArgs exactly n; both say so as a usage
// error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			if n == 0 {
				return usage("takes no arguments, got %q", args)
			}
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

// sharedFlags say where and how hookflow runs (all of serve's and worker's); every
// command that has one reads it from the same variable, HOOKFLOW_<FLAG>. Other flags belong to their command, and
// read HOOKFLOW_<COMMAND>_<FLAG>, so that a variable set for one command does not
// change another: HOOKFLOW_RUNS_LIST_STATUS, HOOKFLOW_RUN_DRY_RUN.
var sharedFlags = map[string]bool{
	"redis": true, "admin": true, "listen": true, "max-conns": true, "workers": true, "lease": true, "max-queued": true,
	"retention": true, "keep-runs": true, "allow-net": true, "log-format": true, "log-level": true, "no-watch": true, "metrics": true,
	"admin-token": true, "admin-token-file": true, "admin-read-token": true, "admin-read-token-file": true,
	"admin-host": true, "metrics-public": true, "public-url": true, "shards": true, "redis-wait-replicas": true,
	"redis-file": true, "redis-tls-ca": true, "redis-tls-cert": true, "redis-tls-key": true,
}

// envAliases are further environment names a flag reads, after its own.
var envAliases = map[string][]string{
	"redis": {"HOOKFLOW_REDIS_URL"},
}

// envAnnotation holds a flag's environment names, set by documentEnv.
const envAnnotation = "hookflow_env"

// fromEnvAnnotation holds the name of the variable a flag's value was read from, set
// by flagsFromEnv.
const fromEnvAnnotation = "hookflow_from_env"

// envNames are the environment twins of a flag of cmd, first the one it is known by.
func envNames(cmd *cobra.Command, flag string) []string {
	name := strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	if !sharedFlags[flag] {
		if path := strings.Fields(cmd.CommandPath())[1:]; len(path) > 0 {
			name = strings.ToUpper(strings.ReplaceAll(strings.Join(path, "_"), "-", "_")) + "_" + name
		}
	}
	return append([]string{"HOOKFLOW_" + name}, envAliases[flag]...)
}

// flagsFromEnv gives every flag of cmd that the command line did not set its value
// from the environment, if there and not empty.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		for _, name := range f.Annotations[envAnnotation] {
			v := os.Getenv(name)
			if v == "" {
				continue
			}
			if e := setFromEnv(f, v); e != nil {
				err = usage("%s=%q: %v", name, v, e)
			}
			f.Annotations[fromEnvAnnotation] = []string{name}
			return
		}
	})
	return err
}

// setFromEnv sets f to an environment value: a list flag takes a comma-separated list,
// and a boolean one yes and no too (envBool). What is wrong is said in words (inWords).
func setFromEnv(f *pflag.Flag, v string) error {
	if f.Value.Type() == "bool" {
		return envBool(f, v)
	}
	if _, ok := f.Value.(*prefixList); ok {
		for _, part := range strings.Split(v, ",") {
			if err := f.Value.Set(part); err != nil {
				return err
			}
		}
		return nil
	}
	return inWords(f, f.Value.Set(v))
}

// documentEnv gives each flag its environment names, and adds them to its help.
func documentEnv(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if f.Annotations[envAnnotation] != nil || f.Name == "help" || f.Name == "version" {
					return
				}
				names := envNames(c, f.Name)
				if f.Annotations == nil {
					f.Annotations = map[string][]string{}
				}
				f.Annotations[envAnnotation] = names
				f.Usage += " [$" + strings.Join(names, ", $") + "]"
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
