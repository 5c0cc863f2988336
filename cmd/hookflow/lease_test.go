package main

import (
	"io"
	"strings"
	"testing"
)

// --lease (and HOOKFLOW_LEASE) is at least 1s, for serve and worker: a lease of 0 was
// taken for the default, one Redis reads as 0 ms had a step sent several times at once,
// and one under 3 ns made the heartbeat panic.
func TestLeaseIsAtLeastASecond(t *testing.T) {
	// Files that do not load: a command that took the lease would stop at them, with
	// exit status 1, before it listens or reaches Redis.
	dir := writeFiles(t, t.TempDir(), map[string]string{"broken.hcl": "workflow {\n"})
	local := []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", dir}
	for _, tt := range []struct {
		args []string
		env  string
		says string
	}{
		{[]string{"serve", "--lease", "1ns"}, "", `invalid argument "1ns" for "--lease" flag: must be at least 1s`},
		{[]string{"serve", "--lease", "500us"}, "", `"--lease" flag: must be at least 1s`},
		{[]string{"serve", "--lease", "999ms"}, "", `"--lease" flag: must be at least 1s`},
		{[]string{"serve", "--lease", "0s"}, "", `"--lease" flag: must be at least 1s`},
		{[]string{"serve", "--lease=-5s"}, "", `"--lease" flag: must be at least 1s`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", "--lease", "1ns"}, "", `"--lease" flag: must be at least 1s`},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1"}, "HOOKFLOW_LEASE=0", `HOOKFLOW_LEASE="0": must be at least 1s`},
		{[]string{"serve"}, "HOOKFLOW_LEASE=500us", `HOOKFLOW_LEASE="500us": must be at least 1s`},
	} {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if name, value, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(name, value)
			}
			args := append(tt.args, dir)
			if tt.args[0] == "serve" {
				args = append(tt.args, local...)
			}
			_, stderr, err := hookflowCLI(t, args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
		})
	}
	cmd, _, err := newRootCommand(nil, io.Discard, io.Discard).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags([]string{"--lease", "1s"}); err != nil {
		t.Errorf("--lease 1s: %v", err)
	}
}
