package main

import (
	"io"
	"strings"
	"testing"
)

// A value a flag refuses is said in words, what to give, not in Go's (strconv.ParseInt:
// parsing "abc": invalid syntax; time: missing unit in duration "5"), from the command
// line and from the environment alike: exit status 2, naming only the flag that is wrong.
func TestFlagValuesInWords(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string // NAME=value
		says string
		not  string // what the message must not name
	}{
		{[]string{"runs", "list", "--limit", "abc"}, "", `invalid argument "abc" for "--limit" flag: give a whole number`, ""},
		{[]string{"runs", "list"}, "HOOKFLOW_RUNS_LIST_LIMIT=abc", `HOOKFLOW_RUNS_LIST_LIMIT="abc": give a whole number`, ""},
		{[]string{"dlq", "list", "--limit", "99999999999999999999"}, "", `"--limit" flag: give a smaller whole number`, ""},
		{[]string{"test"}, "HOOKFLOW_TEST_PARALLEL=x", `HOOKFLOW_TEST_PARALLEL="x": give a whole number of at least 1`, ""},
		{[]string{"test", "-parallel", "0"}, "", `"--parallel" flag: give a whole number of at least 1`, "--timeout"},
		{[]string{"test", "-timeout", "0"}, "", `"--timeout" flag: must be more than 0`, "--parallel"},
		{[]string{"test", "-timeout", "5"}, "", `"--timeout" flag: give a duration with a unit, such as 30s`, ""},
		{[]string{"run", "--timeout", "0s", "w"}, "", `"--timeout" flag: must be more than 0`, ""},
		{[]string{"fmt", "--check=maybe"}, "", `"--check" flag: give true or false`, ""},
		{[]string{"fmt"}, "HOOKFLOW_FMT_CHECK=maybe", `HOOKFLOW_FMT_CHECK="maybe": give true or false (or yes or no, on or off, 1 or 0)`, ""},
		{[]string{"serve", "--lease", "5"}, "", `"--lease" flag: give a duration with a unit, such as 30s`, ""},
		{[]string{"serve", "--retention", "7"}, "", `"--retention" flag: give a duration with a unit, such as 30s`, ""},
		{[]string{"serve", "--retention", "0"}, "", `"--retention" flag: must be at least 1s`, ""},
	} {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if name, value, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(name, value)
			}
			t.Setenv("HOOKFLOW_ADMIN", "127.0.0.1:1") // nothing listens there
			_, stderr, err := hookflowCLI(t, tt.args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
			for _, goSays := range []string{"strconv.", "time: ", tt.not} {
				if goSays != "" && strings.Contains(stderr, goSays) {
					t.Errorf("the message says %q:\n%s", goSays, stderr)
				}
			}
		})
	}
}

// A boolean flag takes yes, no, on and off from the environment, as well as true and
// false: HOOKFLOW_FMT_CHECK=yes.
func TestEnvBooleans(t *testing.T) {
	for v, want := range map[string]string{"yes": "true", "On": "true", "1": "true", "TRUE": "true",
		"no": "false", "off": "false", "0": "false", "false": "false"} {
		t.Setenv("HOOKFLOW_FMT_CHECK", v)
		cmd, _, err := newRootCommand(nil, io.Discard, io.Discard).Find([]string{"fmt"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(nil); err != nil {
			t.Fatal(err)
		}
		if err := flagsFromEnv(cmd); err != nil || cmd.Flags().Lookup("check").Value.String() != want {
			t.Errorf("HOOKFLOW_FMT_CHECK=%s: %v, --check %s, want %s", v, err, cmd.Flags().Lookup("check").Value, want)
		}
	}
}
