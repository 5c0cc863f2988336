// Command hookbench measures a running hookflow from outside, over HTTP: it POSTs
// bench webhooks at a fixed rate or as fast as the engine takes them, and runs a sink
// that the benchmark workflows deliver to, so it can report webhooks accepted per
// second, deliveries per second, and latency from webhook to delivery.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usageHead = `hookbench load-tests a running hookflow over HTTP and records what it delivers.

Usage:
  hookbench --target URL [flags]          send webhooks; with --sink, count deliveries too
  hookbench --sink-only --sink ADDR       only count deliveries, until interrupted

The generator POSTs {"seq": N, "sent_ns": <unix ns>, "kind": "bench", "pad": "…"} to
--target, either at a fixed --rate (open loop) or, with --rate 0, as fast as --conns
connections allow (closed loop). In open loop, sent_ns is when the request was due,
and latency is measured from then, so a slow answer cannot hide the requests it
delays; requests still waiting for a connection when the window ends are not sent but
reported as missed. The first --warmup is not counted.

The sink answers any request 200 {} and, for a JSON body with sent_ns, records the
latency from sent_ns to delivery. It counts deliveries per path and Idempotency-Key
values seen more than once (repeats). The workflows in cmd/hookbench/workflows
deliver to it; serve them with:

  HOOKBENCH_SINK=http://127.0.0.1:9999 hookflow serve --allow-net 127.0.0.1/32 cmd/hookbench/workflows

Examples:
  hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 --rate 500
  hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 --rate 0 --conns 32 --watch-pid 4242
  hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 --rate 0 --conns 32 --floor redis://127.0.0.1:6379/0
  hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 --rate 0 --conns 32 --floor redis://127.0.0.1:6379/0 --floor-apart --floor-reliable
  hookbench --target http://127.0.0.1:8080/hooks/bench/steps3 --sink 127.0.0.1:9999 --expect-paths 3
  hookbench --target http://127.0.0.1:8080/hooks/bench/filtered --rate 0 --json
  hookbench --sink-only --sink 0.0.0.0:9999

Flags:
`

// errUsage is returned for a command line that cannot be run; it exits with status 2.
var errUsage = errors.New("usage")

func main() {
	if spec := os.Getenv(floorApartEnv); spec != "" {
		if err := runApartFloor(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "hookbench (the floor's process):", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.sinkOnly {
		return runSinkOnly(ctx, cfg, stdout, stderr)
	}
	return runBench(ctx, cfg, stdout)
}

// config is the command line.
type config struct {
	gen         genConfig
	drain       time.Duration
	sink        string
	sinkOnly    bool
	expectPaths int
	watchPID    int
	json        bool
	floor       string // Redis URL for the floor relay; "": none
	floorApart  bool   // the floor in a process of its own too
	// floorReliable: the reliable floor too, in the places the floor runs
	floorReliable bool
}

// parseConfig parses and checks the command line. Help goes to stdout and gives
// flag.ErrHelp; a mistake is explained on stderr and gives errUsage.
func parseConfig(args []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("hookbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.gen.target, "target", "", "webhook `URL` to POST to, e.g. http://127.0.0.1:8080/hooks/bench/relay (required unless --sink-only)")
	fs.Float64Var(&cfg.gen.rate, "rate", 500, "requests per second, e.g. --rate 2000 (open loop); 0 sends as fast as --conns allow (closed loop)")
	fs.IntVar(&cfg.gen.conns, "conns", 64, "most connections to the target, and so requests in flight, e.g. --conns 32")
	fs.DurationVar(&cfg.gen.duration, "duration", 10*time.Second, "how long the measured window lasts, e.g. --duration 30s")
	fs.DurationVar(&cfg.gen.warmup, "warmup", time.Second, "how long to send before the window, uncounted (connections, caches), e.g. --warmup 0")
	fs.DurationVar(&cfg.gen.timeout, "timeout", 10*time.Second, "limit on one request, answer included; past it the request counts as a transport error")
	fs.IntVar(&cfg.gen.bodyBytes, "body-bytes", 0, "pad each body to about this many bytes, e.g. --body-bytes 4096; 0: no padding")
	fs.BoolVar(&cfg.gen.acceptGzip, "accept-gzip", false, "ask for gzip-compressed answers (Accept-Encoding: gzip), as most HTTP clients do")
	fs.StringVar(&cfg.gen.githubSecret, "github-secret", "", "sign each request as GitHub does with this secret (X-Hub-Signature-256, a unique X-GitHub-Delivery), e.g. --github-secret hookbench-github-secret for bench/github")
	fs.StringVar(&cfg.sink, "sink", "", "run the sink on this `ADDR`, e.g. 127.0.0.1:9999 (port 0 picks one); empty: no sink")
	fs.BoolVar(&cfg.sinkOnly, "sink-only", false, "only run the sink (needs --sink) and print deliveries each second; SIGINT or SIGTERM prints the report")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "after the window, how long the sink waits for the deliveries of the requests answered 202 in it, e.g. --drain 30s; with --watch-pid, also how long idle CPU is measured")
	fs.IntVar(&cfg.expectPaths, "expect-paths", 1, "how many sink paths each accepted request reaches (3 for bench/steps3): the drain waits for all of them")
	fs.IntVar(&cfg.watchPID, "watch-pid", 0, "sample this process's VmRSS and CPU from /proc (Linux), e.g. --watch-pid $(pgrep -n hookflow): peak RSS, CPU in the window, idle CPU after the drain")
	fs.StringVar(&cfg.floor, "floor", "", "first run the same load against a bare Go relay through a Redis list in this Redis (`URL`, e.g. the one hookflow uses), delivering to the same sink, and report the target's figure as a ratio of it")
	fs.BoolVar(&cfg.floorApart, "floor-apart", false, "with --floor, also run the floor relay in a process of its own, after it ran in hookbench's, and report the ratio to each: the target runs apart from the generator and the sink, as the floor then does, where in hookbench's process it hands webhooks and deliveries between goroutines, not processes; with --watch-pid, its CPU and RSS are reported too")
	fs.BoolVar(&cfg.floorReliable, "floor-reliable", false, "with --floor, also run the reliable floor after the floor (and with --floor-apart, in a process of its own too), and report the ratio to it: the bare relay made crash-safe as a Redis list is, each worker moving a webhook into a list of its own (BLMOVE) until the sink took it (LREM), so that a process killed leaves the webhooks it held in Redis rather than losing them (nothing takes them back: an operator would)")
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	fs.Usage = func() {} // the flag package reports the mistake; hint is added below
	const hint = "Run hookbench --help for the flags and examples."
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return cfg, flag.ErrHelp
		}
		fmt.Fprintln(stderr, hint)
		return cfg, errUsage
	}
	if err := cfg.check(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "hookbench: %v\n%s\n", err, hint)
		return cfg, errUsage
	}
	return cfg, nil
}

// check reports the first thing wrong with the flags, and any argument left over.
func (cfg config) check(rest []string) error {
	g := cfg.gen
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q: every setting is a flag", rest[0])
	case cfg.sinkOnly && cfg.sink == "":
		return errors.New("--sink-only needs --sink ADDR")
	case cfg.sinkOnly && g.target != "":
		return errors.New("--sink-only sends nothing: drop --target, and run the generator in another hookbench")
	case cfg.sinkOnly && cfg.watchPID != 0:
		return errors.New("--watch-pid needs a run with a window: use it with --target")
	case cfg.sinkOnly:
		return checkAddr(cfg.sink)
	case g.target == "":
		return errors.New("--target URL is required, e.g. --target http://127.0.0.1:8080/hooks/bench/relay")
	case g.rate < 0:
		return fmt.Errorf("--rate %g: give requests per second, or 0 for as fast as possible", g.rate)
	case g.conns < 1:
		return fmt.Errorf("--conns %d: need at least 1", g.conns)
	case g.duration <= 0:
		return fmt.Errorf("--duration %s: need a positive duration such as 10s", g.duration)
	case g.warmup < 0:
		return fmt.Errorf("--warmup %s: cannot be negative", g.warmup)
	case cfg.drain < 0:
		return fmt.Errorf("--drain %s: cannot be negative", cfg.drain)
	case g.timeout <= 0:
		return fmt.Errorf("--timeout %s: need a positive duration", g.timeout)
	case g.bodyBytes < 0 || g.bodyBytes > 32<<20:
		return fmt.Errorf("--body-bytes %d: give 0 to 33554432 (32 MiB)", g.bodyBytes)
	case cfg.expectPaths < 1:
		return fmt.Errorf("--expect-paths %d: need at least 1", cfg.expectPaths)
	case cfg.watchPID < 0:
		return fmt.Errorf("--watch-pid %d: not a process id", cfg.watchPID)
	case cfg.floor != "" && cfg.sink == "":
		return errors.New("--floor needs --sink ADDR: the floor delivers to the sink, as the target does")
	case cfg.floorApart && cfg.floor == "":
		return errors.New("--floor-apart needs --floor URL")
	case cfg.floorReliable && cfg.floor == "":
		return errors.New("--floor-reliable needs --floor URL")
	}
	if err := checkTarget(g.target); err != nil {
		return err
	}
	if cfg.sink != "" {
		if err := checkAddr(cfg.sink); err != nil {
			return err
		}
	}
	if cfg.watchPID != 0 {
		if _, err := readProc(cfg.watchPID); err != nil {
			return fmt.Errorf("--watch-pid: %w", err)
		}
	}
	return nil
}

func checkTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--target %q: want an http:// or https:// URL with a host", target)
	}
	return nil
}

func checkAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--sink %q: want HOST:PORT, e.g. 127.0.0.1:9999: %w", addr, err)
	}
	return nil
}
