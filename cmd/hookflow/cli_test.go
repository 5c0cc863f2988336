package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.hcl", `workflow "ok" {
  trigger "webhook" {
    path = "/ok"
  }
}
`)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"validate", dir}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("clean directory: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), ": 1 workflow, no problems") {
		t.Errorf("stdout %q", stdout.String())
	}

	write("broken.hcl", "workflow \"a\" {\n  step \"http\" \"x\" {\n    ur = \"https://x\"\n  }\n}\n")
	write("broken2.hcl", "workflow \"b\" {\n  filter = \"event.body.x >\"\n}\n")
	stdout.Reset()
	err := run(context.Background(), []string{"validate", dir}, nil, &stdout, &stderr)
	if code, ok := err.(exitError); !ok || code != 1 {
		t.Fatalf("got %v, want exit status 1", err)
	}
	out := stderr.String()
	for _, want := range []string{
		"broken.hcl:3:5, in workflow \"a\"", `Did you mean "url"?`,
		"broken2.hcl:2:26", "        ^",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics do not say %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "broken.hcl") > strings.Index(out, "broken2.hcl") {
		t.Error("diagnostics should be in file order")
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), nil, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("no command: %v", err)
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"serv"}, nil, &stdout, &stderr); err != errUsage ||
		!strings.Contains(stderr.String(), `unknown command "serv"; did you mean "serve"?`) {
		t.Errorf("unknown command: %v %s", err, stderr.String())
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"runs", "lst"}, nil, &stdout, &stderr); err != errUsage ||
		!strings.Contains(stderr.String(), `unknown command "lst"; did you mean "list"?`) {
		t.Errorf("unknown subcommand: %v %s", err, stderr.String())
	}
	if err := run(context.Background(), []string{"dlq"}, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("dlq without a subcommand: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "--workers", "x"}, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("bad flag: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "a", "b"}, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("two directories: %v", err)
	}
	if err := run(context.Background(), []string{"runs", "show"}, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("runs show without an id: %v", err)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"serve", "-h"}, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "--allow-net") {
		t.Errorf("help: %v %s", err, stdout.String())
	}
	for err, want := range map[error]int{nil: 0, errUsage: 2, exitError(1): 1, &unreachableError{errors.New("x")}: 3, errors.New("x"): 1} {
		if got := exitStatus(err, io.Discard); got != want {
			t.Errorf("exit status for %v: %d, want %d", err, got, want)
		}
	}
}

// A flag's value that is not one it takes is a usage error, exit status 2, naming
// those it takes, whether it comes from the command line or the environment.
func TestBadFlagValues(t *testing.T) {
	statuses := "use one of queued, running, waiting, succeeded, failed, cancelled"
	for _, tt := range []struct {
		args []string
		env  string // NAME=value
		says string
	}{
		{[]string{"runs", "list", "--status", "lost"}, "", `invalid argument "lost" for "--status" flag: ` + statuses},
		{[]string{"runs", "list"}, "HOOKFLOW_RUNS_LIST_STATUS=lost", `HOOKFLOW_RUNS_LIST_STATUS="lost": ` + statuses},
		{[]string{"runs", "list", "--limit", "-1"}, "", "--limit -1: give how many runs"},
		{[]string{"dlq", "list", "--limit", "-1"}, "", "--limit -1: give how many dead letters"},
		{[]string{"runs", "list", "--limit", "501"}, "", "--limit 501: give how many runs a page holds, from 1 to 500 (0: 50)"},
		{[]string{"dlq", "list", "--limit", "1000"}, "", "--limit 1000: give how many dead letters a page holds, from 1 to 500"},
		{[]string{"runs", "list"}, "HOOKFLOW_RUNS_LIST_LIMIT=501", "HOOKFLOW_RUNS_LIST_LIMIT 501: give how many runs"},
		{[]string{"validate", "--format", "yaml"}, "", `invalid argument "yaml" for "--format" flag: use one of text, json`},
		{[]string{"serve", "--log-format", "yaml"}, "", `invalid argument "yaml" for "--log-format" flag: use one of text, json`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", "--log-format", "yaml"}, "", `"--log-format" flag: use one of text, json`},
		{[]string{"serve", "--log-level", "verbose"}, "", `invalid argument "verbose" for "--log-level" flag: use one of debug, info, warn, error`},
		{[]string{"serve"}, "HOOKFLOW_LOG_LEVEL=WARNING", `HOOKFLOW_LOG_LEVEL="WARNING": use one of debug, info, warn, error`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", "--log-level", "trace"}, "", `"--log-level" flag: use one of debug, info, warn, error`},
		{[]string{"serve", "--workers", "0"}, "", `invalid argument "0" for "--workers" flag: give a whole number of at least 1`},
		{[]string{"serve"}, "HOOKFLOW_WORKERS=-3", `HOOKFLOW_WORKERS="-3": give a whole number of at least 1`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", "--workers", "-1"}, "", `"--workers" flag: give a whole number of at least 1`},
		{[]string{"serve", "--max-conns", "-1"}, "", `"--max-conns" flag: give a whole number of at least 0`},
		{[]string{"serve", "--shards", "-2"}, "", `"--shards" flag: give a whole number of at least 0`},
	} {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if name, value, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(name, value)
			}
			// No admin API listens there: a value sent to it would fail otherwise.
			t.Setenv("HOOKFLOW_ADMIN", "127.0.0.1:1")
			_, stderr, err := hookflowCLI(t, tt.args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
		})
	}
}

// A value that does not parse is a usage error, exit status 2, naming where it came
// from: the flag, or the environment variable it was read from. So is a help topic, a
// shell or an id that names nothing, before any request is sent.
func TestBadValuesNameTheirSource(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": `workflow "w" {
  step "http" "x" {
    url = "https://example.com"
  }
}
`})
	local := []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", dir}
	for _, tt := range []struct {
		args []string
		env  string // NAME=value
		says string
	}{
		{[]string{"serve", "--listen", "nonsense", dir}, "", `hookflow serve: --listen "nonsense": missing port in address`},
		{[]string{"serve", "--admin", "::::", dir}, "", `--admin "::::": too many colons in address`},
		{[]string{"serve", dir}, "HOOKFLOW_LISTEN=nonsense", `HOOKFLOW_LISTEN "nonsense": missing port in address`},
		// run's --listen gives the resume URLs their port: not taken for :8080 silently.
		{[]string{"run", "--dir", dir, "--dry-run", "--listen", "bad", "w"}, "", `hookflow run: --listen "bad": missing port in address`},
		{[]string{"run", "--dir", dir, "--dry-run", "w"}, "HOOKFLOW_LISTEN=bad", `hookflow run: HOOKFLOW_LISTEN "bad": missing port in address`},
		{[]string{"serve", "--listen", "127.0.0.1:0", dir}, "HOOKFLOW_ADMIN=127.0.0.1", `HOOKFLOW_ADMIN "127.0.0.1": missing port`},
		{[]string{"serve", "--listen", "127.0.0.1:http-ish", dir}, "", `--listen "127.0.0.1:http-ish"`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", "--metrics", "nonsense", dir}, "", `--metrics "nonsense": missing port`},
		{append([]string{"serve", "--admin-token", "short"}, local...), "", "--admin-token: at least 16 characters"},
		{append([]string{"serve"}, local...), "HOOKFLOW_ADMIN_TOKEN=short", "HOOKFLOW_ADMIN_TOKEN: at least 16 characters"},
		{append([]string{"serve"}, local...), "HOOKFLOW_PUBLIC_URL=notaurl", `HOOKFLOW_PUBLIC_URL "notaurl": give the URL`},
		{append([]string{"serve"}, local...), "HOOKFLOW_REDIS=notaurl", "HOOKFLOW_REDIS: the URL must start with redis://"},
		{append([]string{"serve"}, local...), "HOOKFLOW_REDIS_URL=notaurl", "HOOKFLOW_REDIS_URL: the URL must start with redis://"},
		{[]string{"workflows"}, "HOOKFLOW_ADMIN=garbage::", `HOOKFLOW_ADMIN "garbage::": give host:port or an http(s) URL`},
		{[]string{"workflows", "--admin", "garbage::"}, "", `--admin "garbage::": give host:port or an http(s) URL`},
		{[]string{"run", "--dir", dir, "--dry-run", "w"}, "HOOKFLOW_RUN_RESPONSE=x=missing.json", "HOOKFLOW_RUN_RESPONSE x: open missing.json"},
		{[]string{"run", "--dir", dir, "--dry-run", "--response", "x=missing.json", "w"}, "", "--response x: open missing.json"},
		{[]string{"run", "--dir", dir, "w"}, "HOOKFLOW_RUN_EVENT=missing.json", "HOOKFLOW_RUN_EVENT: open missing.json"},
		{[]string{"help", "bogus"}, "", `no help topic "bogus"`},
		{[]string{"help", "runs", "bogus"}, "", `no help topic "runs bogus"`},
		{[]string{"completion", "tcsh"}, "", `no completion for shell "tcsh"; there is for bash, fish, powershell, zsh`},
		{[]string{"completion", "bash", "extra"}, "", `hookflow completion bash: takes no arguments`},
		{[]string{"runs", "show", ""}, "", "RUN is empty"},
		{[]string{"runs", "show", ".."}, "", `RUN ".." is no id or name`},
		{[]string{"runs", "cancel", ".."}, "", `RUN ".." is no id or name`},
		{[]string{"runs", "replay", "."}, "", `RUN "." is no id or name`},
		{[]string{"runs", "export-test", "a\nb"}, "", `RUN "a\nb" holds a control character`},
		{[]string{"runs", "resume", "r1", " "}, "", `STEP is empty`},
		{[]string{"runs", "start", ".."}, "", `WORKFLOW ".." is no id or name`},
		{[]string{"dlq", "retry", ""}, "", "ID is empty"},
		{[]string{"dlq", "list", "--run", "r1", "--limit", "1"}, "", "--run lists one run's dead letters, all of them: it takes no --limit or --cursor"},
		{[]string{"dlq", "list", "--run", ""}, "", "RUN is empty"},
	} {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if name, value, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(name, value)
			}
			if !strings.HasPrefix(tt.env, "HOOKFLOW_ADMIN=") {
				// No admin API listens there: a request sent would fail otherwise.
				t.Setenv("HOOKFLOW_ADMIN", "127.0.0.1:1")
			}
			_, stderr, err := hookflowCLI(t, tt.args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
		})
	}
}

// An address that parses but cannot be listened on is no mistake of the command line:
// exit status 1, naming the flag.
func TestListenAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, err = hookflowCLI(t, "serve", "--listen", ln.Addr().String(), "--admin", "127.0.0.1:0", t.TempDir())
	var stderr bytes.Buffer
	if code := exitStatus(err, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "hookflow: --listen: listen tcp "+ln.Addr().String()) {
		t.Errorf("exit status %d, want 1:\n%s", code, stderr.String())
	}
	t.Setenv("HOOKFLOW_LISTEN", ln.Addr().String())
	_, _, err = hookflowCLI(t, "serve", "--admin", "127.0.0.1:0", t.TempDir())
	stderr.Reset()
	if code := exitStatus(err, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "hookflow: HOOKFLOW_LISTEN: listen tcp") {
		t.Errorf("from the environment: exit status %d, want 1:\n%s", code, stderr.String())
	}
}

// Every command has a help with an example, and every flag an environment twin that
// its help names.
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRootCommand(nil, io.Discard, io.Discard)
	seen := map[string]string{} // environment name: the flag that reads it
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Name() == "help" || c.Parent() != nil && c.Parent().Name() == "completion" || c.Name() == "completion" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		var stdout bytes.Buffer
		if err := run(context.Background(), append(path, "--help"), nil, &stdout, io.Discard); err != nil {
			t.Errorf("%s --help: %v", c.CommandPath(), err)
		}
		if !strings.Contains(stdout.String(), "Examples:\n  hookflow") {
			t.Errorf("%s --help has no example:\n%s", c.CommandPath(), stdout.String())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Name == "version" {
				return
			}
			names := f.Annotations[envAnnotation]
			if len(names) == 0 || !strings.Contains(f.Usage, "$"+names[0]) {
				t.Errorf("%s --%s does not name its environment twin: %q", c.CommandPath(), f.Name, f.Usage)
			}
			if owner := seen[names[0]]; owner != "" && owner != c.CommandPath()+" --"+f.Name && !sharedFlags[f.Name] {
				t.Errorf("%s is read by both %s and %s --%s", names[0], owner, c.CommandPath(), f.Name)
			}
			seen[names[0]] = c.CommandPath() + " --" + f.Name
		})
	}
	walk(root)
}

// worker's help says what its flags do in a worker, which answers no webhooks, has no
// --listen and needs a real Redis; serve's says what they do in serve.
func TestWorkerFlagsHelp(t *testing.T) {
	help := func(cmd string) string {
		t.Helper()
		stdout, _, err := hookflowCLI(t, cmd, "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		return stdout
	}
	worker, serve := help("worker"), help("serve")
	for _, serveOnly := range []string{"webhooks are answered 503", "of --listen)", "empty runs an embedded", "before a webhook is answered"} {
		if strings.Contains(worker, serveOnly) {
			t.Errorf("worker --help says %q:\n%s", serveOnly, worker)
		}
		if !strings.Contains(serve, serveOnly) {
			t.Errorf("serve --help does not say %q:\n%s", serveOnly, serve)
		}
	}
	for _, want := range []string{"start no child run", "(required)", "serve's --listen", "default: http://localhost:8080"} {
		if !strings.Contains(worker, want) {
			t.Errorf("worker --help does not say %q:\n%s", want, worker)
		}
	}
}

// Every flag of serve and worker says where and how hookflow runs, and reads
// HOOKFLOW_<FLAG>, as a container's environment sets it for either.
func TestServeAndWorkerFlagsReadHookflowFlag(t *testing.T) {
	root := newRootCommand(nil, io.Discard, io.Discard)
	for _, name := range []string{"serve", "worker"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			want := "HOOKFLOW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			if got := f.Annotations[envAnnotation]; len(got) == 0 || got[0] != want {
				t.Errorf("%s --%s reads %v, want %s", name, f.Name, got, want)
			}
		})
	}
	cmd, _, err := root.Find([]string{"runs", "export-test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("name").Annotations[envAnnotation]; len(got) == 0 || got[0] != "HOOKFLOW_RUNS_EXPORT_TEST_NAME" {
		t.Errorf("runs export-test --name reads %v, a name no shell can set", got)
	}
}

// The defaults of serve's and test's flags are those the docs state: the flag set's
// own, and the rows of docs/cli.md's serve table, docs/operations.md's Redis table and
// docs/security.md's listeners table.
func TestFlagDefaults(t *testing.T) {
	root := newRootCommand(nil, io.Discard, io.Discard)
	docs := map[string]string{}
	for _, name := range []string{"cli.md", "operations.md", "security.md"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = string(data)
	}
	for _, c := range []struct {
		command, flag, value string
		docs                 map[string]string // a doc and the text in it that gives the default
	}{
		{"serve", "listen", ":8080", map[string]string{"cli.md": "| `--listen` | `:8080` |", "security.md": "| `--listen` | `:8080` |"}},
		{"serve", "admin", "127.0.0.1:8081", map[string]string{"cli.md": "| `--admin` | `127.0.0.1:8081` |", "security.md": "| `--admin` | `127.0.0.1:8081` |"}},
		{"serve", "workers", "128", map[string]string{"cli.md": "| `--workers` | 128 |", "operations.md": "| `--workers` | 128 |"}},
		{"serve", "lease", "30s", map[string]string{"cli.md": "| `--lease` | 30s |", "operations.md": "| `--lease` | 30s |"}},
		{"serve", "retention", "7d", map[string]string{"cli.md": "| `--retention` | 7d |", "operations.md": "| `--retention` | 7d |"}},
		{"serve", "max-queued", "100000", map[string]string{"cli.md": "| `--max-queued` | 100000 |", "operations.md": "| `--max-queued` | 100000 |"}},
		{"serve", "max-conns", "4096", map[string]string{"cli.md": "| `--max-conns` | 4096 |", "operations.md": "`--max-conns` (4,096)", "security.md": "`--max-conns` (4,096)"}},
		{"worker", "lease", "30s", nil},
		{"worker", "retention", "7d", nil},
		{"worker", "max-queued", "100000", nil},
		{"test", "parallel", strconv.Itoa(4 * runtime.GOMAXPROCS(0)), map[string]string{"cli.md": "(`--parallel`, default 4 per core)"}},
		{"test", "timeout", "1m0s", map[string]string{"cli.md": "`--timeout`\n  (default 1m)"}},
	} {
		t.Run(c.command+" --"+c.flag, func(t *testing.T) {
			cmd, _, err := root.Find([]string{c.command})
			if err != nil {
				t.Fatal(err)
			}
			f := cmd.Flags().Lookup(c.flag)
			if f == nil {
				t.Fatalf("%s has no --%s", c.command, c.flag)
			}
			if f.DefValue != c.value {
				t.Errorf("default %s, want %s", f.DefValue, c.value)
			}
			for doc, text := range c.docs {
				if !strings.Contains(docs[doc], text) {
					t.Errorf("docs/%s does not say %q", doc, text)
				}
			}
		})
	}
}

func TestFlagsReadTheEnvironment(t *testing.T) {
	t.Setenv("HOOKFLOW_ALLOW_NET", "127.0.0.1, 10.0.0.0/8")
	t.Setenv("HOOKFLOW_WORKERS", "7")
	t.Setenv("HOOKFLOW_REDIS_URL", "redis://elsewhere:6379/0")
	parse := func(args ...string) (*cobra.Command, error) {
		cmd, _, err := newRootCommand(nil, io.Discard, io.Discard).Find([]string{"serve"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return cmd, flagsFromEnv(cmd)
	}
	value := func(cmd *cobra.Command, name string) string { return cmd.Flags().Lookup(name).Value.String() }

	cmd, err := parse("--workers", "9")
	if err != nil {
		t.Fatal(err)
	}
	if value(cmd, "workers") != "9" {
		t.Errorf("the command line should win over the environment: workers %s", value(cmd, "workers"))
	}
	if got := value(cmd, "allow-net"); got != "127.0.0.1/32,10.0.0.0/8" {
		t.Errorf("allow-net %s", got)
	}
	if got := value(cmd, "redis"); got != "redis://elsewhere:6379/0" {
		t.Errorf("HOOKFLOW_REDIS_URL should set --redis: %q", got)
	}
	t.Setenv("HOOKFLOW_REDIS", "redis://here:6379/0")
	if cmd, _ = parse(); value(cmd, "redis") != "redis://here:6379/0" {
		t.Errorf("HOOKFLOW_REDIS should win over HOOKFLOW_REDIS_URL: %q", value(cmd, "redis"))
	}

	// A list flag on the command line replaces the environment's list.
	if cmd, _ = parse("--allow-net", "192.168.0.0/16"); value(cmd, "allow-net") != "192.168.0.0/16" {
		t.Errorf("allow-net %v, want only the command line's", value(cmd, "allow-net"))
	}

	t.Setenv("HOOKFLOW_WORKERS", "many")
	var u *usageError
	if _, err := parse(); !errors.As(err, &u) || !strings.Contains(err.Error(), "HOOKFLOW_WORKERS") {
		t.Errorf("a bad environment value should be a usage error naming it, got %v", err)
	}

	// An empty variable is unset.
	t.Setenv("HOOKFLOW_WORKERS", "")
	if cmd, err = parse(); err != nil || value(cmd, "workers") != "128" {
		t.Errorf("HOOKFLOW_WORKERS empty: %v %s", err, value(cmd, "workers"))
	}

	// A command's own flags read variables named after it: one set for runs list does
	// not change another command.
	t.Setenv("HOOKFLOW_RUNS_LIST_STATUS", "failed")
	t.Setenv("HOOKFLOW_STATUS", "queued")
	t.Setenv("HOOKFLOW_RUNS_JSON", "true")
	t.Setenv("HOOKFLOW_JSON", "true")
	root := newRootCommand(nil, io.Discard, io.Discard)
	for path, want := range map[string]map[string]string{
		"runs list": {"status": "failed", "json": "true"},
		"run":       {"json": "false"},
		"dlq list":  {"json": "false"},
	} {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(nil); err != nil {
			t.Fatal(err)
		}
		if err := flagsFromEnv(cmd); err != nil {
			t.Fatal(err)
		}
		for flag, v := range want {
			if got := value(cmd, flag); got != v {
				t.Errorf("%s --%s = %s, want %s", path, flag, got, v)
			}
		}
	}

	// Commands that reach the admin API read HOOKFLOW_ADMIN too.
	t.Setenv("HOOKFLOW_ADMIN", "127.0.0.1:1")
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"runs", "list"}, nil, io.Discard, &stderr)
	var unreachable *unreachableError
	if !errors.As(err, &unreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("runs list with HOOKFLOW_ADMIN: %v", err)
	}
}

func TestFmtCommand(t *testing.T) {
	dir := t.TempDir()
	messy := "workflow \"a\" {\ndescription=\"x\"\n  trigger \"webhook\" {\n      path = \"/a\"\n  method=\"POST\"\n  }\n}\n"
	clean := "workflow \"a\" {\n  description = \"x\"\n  trigger \"webhook\" {\n    path   = \"/a\"\n    method = \"POST\"\n  }\n}\n"
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	messyPath := write("messy.hcl", messy)
	write("clean.hcl", clean)
	fmtRun := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"fmt"}, args...), strings.NewReader(messy), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}

	if out, _, err := fmtRun("--check", dir); err != exitError(1) || !strings.HasPrefix(out, "--- "+messyPath+"\n+++ "+messyPath+"\n@@ ") {
		t.Errorf("--check: %v %q", err, out)
	}
	if data, _ := os.ReadFile(messyPath); string(data) != messy {
		t.Error("--check changed the file")
	}
	if out, _, err := fmtRun(dir); err != nil || out != messyPath+"\n" {
		t.Errorf("fmt: %v %q", err, out)
	}
	if data, _ := os.ReadFile(messyPath); string(data) != clean {
		t.Errorf("formatted:\n%s", data)
	}
	if info, _ := os.Stat(messyPath); info.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", info.Mode())
	}
	if out, _, err := fmtRun("--check", dir); err != nil || out != "" {
		t.Errorf("--check after fmt: %v %q", err, out)
	}
	if out, _, err := fmtRun("-"); err != nil || out != clean {
		t.Errorf("stdin: %v %q", err, out)
	}
	if out, _, err := fmtRun("--check", "-"); err != exitError(1) || !strings.HasPrefix(out, "--- <stdin>\n+++ <stdin>\n@@ -1,7 +1,7 @@\n") {
		t.Errorf("--check stdin: %v %q", err, out)
	}
	if _, _, err := fmtRun("-", dir); err != errUsage {
		t.Errorf("- with a directory: %v", err)
	}

	broken := write("broken.hcl", "workflow \"b\" {\n  filter = \n}\n")
	_, stderr, err := fmtRun(broken)
	if err != exitError(1) || !strings.Contains(stderr, "broken.hcl:2:") {
		t.Errorf("broken file: %v %s", err, stderr)
	}
	if data, _ := os.ReadFile(broken); string(data) != "workflow \"b\" {\n  filter = \n}\n" {
		t.Error("a file that does not parse was changed")
	}
}

func TestWorkerCommand(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"worker", t.TempDir()}, nil, io.Discard, &stderr); err != errUsage ||
		!strings.Contains(stderr.String(), "--redis is required") {
		t.Errorf("worker without --redis: %v, %q", err, stderr.String())
	}

	// A worker runs the steps of runs another process started.
	b := redistest.Real(t)
	api := testutil.NewSink(t, 0)
	t.Setenv("FAULT_API", api.URL)
	dir := testutil.WriteRelay(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs syncWriter
	logs.w = &bytes.Buffer{}
	go func() {
		done <- run(ctx, []string{"worker", "--redis", b.URL, "--allow-net", "127.0.0.1/32", dir}, nil, io.Discard, &logs)
	}()
	set, _ := load(dir, kinds(nil, nil), io.Discard)
	starter := engine.New(b.Client, engine.Options{})
	id, err := starter.Start(context.Background(), set.Workflow("relay"), &workflows.Event{ID: "e", Trigger: "manual", Raw: `{"n": 1}`, ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitRuns(t, b.Client, []string{id}, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("worker: %v\n%s", err, logs.w)
	}
	// Its last line says it has stopped, once it has.
	lines := strings.Split(strings.TrimSpace(logs.w.(*bytes.Buffer).String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "level=INFO msg=stopped duration_ms=") || !strings.Contains(last, " steps_ended=") {
		t.Errorf("the worker's last line: %s", last)
	}
}

func TestRetentionFlag(t *testing.T) {
	var d days
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "1d12h": 36 * time.Hour} {
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("%q: %s, %v; want %s", in, time.Duration(d), err, want)
		}
	}
	for _, bad := range []string{"0s", "-1h", "week", "500us"} {
		if err := d.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	d = days(14 * 24 * time.Hour)
	if d.String() != "14d" {
		t.Errorf("String %q", d.String())
	}
}

// The embedded Redis expires keys as time passes, so finished runs leave its memory.
func TestEmbeddedRedisExpiresKeys(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer expireKeysEvery(m, 100*time.Millisecond)()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "short", "x", 1100*time.Millisecond)
	testutil.Eventually(t, 10*time.Second, "a key with a TTL of 1.1s gone", func() bool {
		return rdb.Exists(ctx, "short").Val() == 0
	})
}

// TestCounts: one of a thing is singular wherever the CLI counts.
func TestCounts(t *testing.T) {
	lines := make([]any, maxOutputLines-1) // with the brackets, one line past the cap
	var out bytes.Buffer
	printValue(&out, "", lines, jsonShowsAll)
	if !strings.Contains(out.String(), "… 1 more line (--json shows all)") {
		t.Errorf("printValue:\n%s", out.String())
	}
	body := strings.Repeat("x\n", maxOutputLines+1)
	if got := requestLines([]workflows.Request{{Method: "POST", URL: "https://example.com", Body: body}}, jsonShowsAll); !strings.Contains(got, "… 1 more line (--json shows all)") {
		t.Errorf("requestLines:\n%s", got)
	}
	dir := t.TempDir()
	writeFile(t, dir+"/two.hcl", hookSrc("a")+hookSrc("b"))
	out.Reset()
	if err := run(context.Background(), []string{"validate", dir}, nil, &out, &out); err != nil || !strings.Contains(out.String(), ": 2 workflows, no problems") {
		t.Errorf("validate: %v %q", err, out.String())
	}
}

// A --shards other than the count stored in Redis is exit status 2, reported as
// docs/operations.md shows it: "hookflow: shard count mismatch: …", with no usage hint.
func TestShardsMismatch(t *testing.T) {
	b := redistest.Mini(t)
	if _, err := engine.AgreeShards(context.Background(), b.Client, 16); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": "workflow \"w\" {}\n"})
	for _, args := range [][]string{
		{"serve", "--redis", b.URL, "--shards", "8", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", dir},
		{"worker", "--redis", b.URL, "--shards", "8", dir},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, err := hookflowCLI(t, args...)
			var out bytes.Buffer
			code := exitStatus(err, &out)
			got := stderr + out.String()
			want := "hookflow: shard count mismatch: --shards 8, but the queue in this Redis has 16 shards"
			if code != exitUsage || !strings.HasPrefix(got, want) || strings.Contains(got, "--help") {
				t.Errorf("exit %d, want 2 and %q:\n%s", code, want, got)
			}
		})
	}
}

// serve's --admin help names all it serves: /healthz and /readyz too.
func TestServeAdminFlagHelp(t *testing.T) {
	out, _, err := hookflowCLI(t, "serve", "--help")
	if err != nil || !strings.Contains(out, "address for the admin API, the run inspector, /metrics, /healthz and /readyz; keep it private") {
		t.Errorf("%v\n%s", err, out)
	}
}

// A worker reloads the workflow files when they change, as serve does: a workflow
// step it runs starts its child on the workflow in use, one added since it started
// included.
func TestWorkerReloadsItsFiles(t *testing.T) {
	b := redistest.Real(t)
	dir := t.TempDir()
	writeFile(t, dir+"/p.hcl", `workflow "parent" {
  step "set" "one" {
    x = "1"
  }
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncWriter{w: &bytes.Buffer{}}
	go func() {
		done <- run(ctx, []string{"worker", "--redis", b.URL, dir}, nil, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	testutil.Eventually(t, 10*time.Second, "the worker running", func() bool {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return strings.Contains(logs.w.(*bytes.Buffer).String(), "hookflow worker running")
	})
	writeFile(t, dir+"/p.hcl", `workflow "parent" {
  step "workflow" "call" {
    workflow = "kid"
  }
}

workflow "kid" {
  step "set" "k" {
    y = "2"
  }
}
`)
	testutil.Eventually(t, 10*time.Second, "the worker's reload", func() bool {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return strings.Contains(logs.w.(*bytes.Buffer).String(), "workflows reloaded")
	})
	set, _ := load(dir, kinds(nil, nil), io.Discard)
	starter := engine.New(b.Client, engine.Options{})
	starter.Use(set)
	id, err := starter.Start(context.Background(), set.Workflow("parent"), &workflows.Event{ID: "e", Trigger: "manual", Raw: `{}`, ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	var r *engine.Run
	testutil.Eventually(t, 10*time.Second, "the parent run to end", func() bool {
		r, err = starter.Run(context.Background(), id)
		return err == nil && r.Status != engine.RunQueued && r.Status != engine.RunRunning
	})
	if r.Status != engine.RunSucceeded {
		t.Errorf("the parent run %s: %s", r.Status, r.Error)
	}
}
