package main

import (
	"strings"
	"testing"
)

// An unknown subcommand is a usage error, exit status 2, with --help as without it:
// cobra showed the group's help then, with exit status 0, as though it were asked for.
// A group's own --help, and a subcommand's, still show their help.
func TestUnknownSubcommandWithHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"runs", "follow", "--help"}, `hookflow runs: unknown command "follow"`},
		{[]string{"runs", "follow", "-h"}, `hookflow runs: unknown command "follow"`},
		{[]string{"runs", "--json", "follow", "--help"}, `hookflow runs: unknown command "follow"`},
		{[]string{"dlq", "lst", "--help"}, `hookflow dlq: unknown command "lst"; did you mean "list"?`},
		{[]string{"serv", "--help"}, `hookflow: unknown command "serv"; did you mean "serve"?`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, err := hookflowCLI(t, tt.args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
			if stdout != "" {
				t.Errorf("help shown:\n%s", stdout)
			}
		})
	}
	for _, args := range [][]string{{"runs", "--help"}, {"runs", "list", "--help"}, {"--help"}, {"dlq", "-h"}} {
		stdout, stderr, err := hookflowCLI(t, args...)
		if err != nil || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
		}
	}
}
