package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	const target = "http://127.0.0.1:8080/hooks/bench/relay"
	for _, tc := range []struct {
		name string
		args []string
		want string // in the message on stderr
	}{
		{"unknown flag", []string{"--target", target, "--bogus"}, "-bogus"},
		{"no target", []string{"--rate", "10"}, "--target URL is required"},
		{"target not a URL", []string{"--target", "127.0.0.1:8080"}, "want an http:// or https:// URL"},
		{"target without host", []string{"--target", "http:///hooks"}, "with a host"},
		{"negative rate", []string{"--target", target, "--rate", "-5"}, "--rate -5"},
		{"rate not a number", []string{"--target", target, "--rate", "fast"}, "invalid value"},
		{"no conns", []string{"--target", target, "--conns", "0"}, "--conns 0"},
		{"zero duration", []string{"--target", target, "--duration", "0s"}, "--duration 0s"},
		{"duration without unit", []string{"--target", target, "--duration", "10"}, "invalid value"},
		{"negative warmup", []string{"--target", target, "--warmup", "-1s"}, "--warmup -1s"},
		{"negative drain", []string{"--target", target, "--drain", "-1s"}, "--drain -1s"},
		{"zero timeout", []string{"--target", target, "--timeout", "0s"}, "--timeout 0s"},
		{"huge body", []string{"--target", target, "--body-bytes", "40000000"}, "--body-bytes"},
		{"no paths", []string{"--target", target, "--expect-paths", "0"}, "--expect-paths 0"},
		{"sink without port", []string{"--target", target, "--sink", "localhost"}, "want HOST:PORT"},
		{"sink-only without sink", []string{"--sink-only"}, "--sink-only needs --sink"},
		{"sink-only with target", []string{"--sink-only", "--sink", ":0", "--target", target}, "drop --target"},
		{"no such process", []string{"--target", target, "--watch-pid", "2147483647"}, "--watch-pid"},
		{"negative pid", []string{"--target", target, "--watch-pid", "-1"}, "--watch-pid -1"},
		{"argument", []string{"--target", target, "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			_, err := parseConfig(tc.args, &stdout, &stderr)
			if !errors.Is(err, errUsage) {
				t.Fatalf("parseConfig(%q) = %v, want the usage error (exit status 2)", tc.args, err)
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "hookbench --help") {
				t.Errorf("stderr %q, want it to name %q and point to --help", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestFlagsValid(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cfg, err := parseConfig([]string{"--target", "http://127.0.0.1:8080/hooks/bench/steps3", "--sink", "127.0.0.1:9999",
		"--rate", "0", "--conns", "32", "--duration", "5s", "--warmup", "0", "--expect-paths", "3"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	g := cfg.gen
	if g.rate != 0 || g.conns != 32 || g.duration.Seconds() != 5 || g.warmup != 0 || cfg.drain.Seconds() != 5 || cfg.expectPaths != 3 || cfg.sink != "127.0.0.1:9999" {
		t.Errorf("config %+v", cfg)
	}
}

// TestHelp checks that --help explains every flag, with examples, on stdout.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		_, err := parseConfig([]string{arg}, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s: %v", arg, err)
		}
		if err := run(t.Context(), []string{arg}, &stdout, &stderr); err != nil {
			t.Errorf("run %s = %v, want nil (exit status 0)", arg, err)
		}
		help := stdout.String()
		for _, want := range []string{"Examples:", "hookbench --target http://", "--sink-only --sink",
			"-target", "-rate", "-conns", "-duration", "-warmup", "-drain", "-timeout", "-body-bytes", "-accept-gzip",
			"-sink", "-sink-only", "-expect-paths", "-watch-pid", "-json"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s: the help lacks %q", arg, want)
			}
		}
		if stderr.Len() != 0 {
			t.Errorf("%s: stderr %q", arg, stderr.String())
		}
	}
}
