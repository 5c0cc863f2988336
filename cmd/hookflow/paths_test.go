package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A path given on the command line that does not exist is a usage error, exit status
// 2, said alike by every command before it does anything: an argument, the value of a
// flag (named as it was given), or the directory of a file to write. So is a value of
// --admin the admin API may not listen on without a token.
func TestMissingPathsAreUsageErrors(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"w.hcl": "workflow \"w\" {\n  step \"set\" \"x\" {\n    y = \"1\"\n  }\n}\n"})
	missing := filepath.Join(t.TempDir(), "missing")
	local := []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}
	for _, tt := range []struct {
		args []string
		env  string // NAME=value
		says string
	}{
		{[]string{"validate", missing}, "", "hookflow validate: " + missing + ": no such file or directory"},
		{[]string{"validate", dir, missing}, "", "hookflow validate: " + missing + ": no such file or directory"},
		{[]string{"validate", missing + "/..."}, "", "hookflow validate: " + missing + ": no such file or directory"},
		{[]string{"fmt", "--check", missing + "/..."}, "", "hookflow fmt: " + missing + ": no such file or directory"},
		{[]string{"fmt", missing}, "", "hookflow fmt: " + missing + ": no such file or directory"},
		{[]string{"fmt", "--check", dir, missing}, "", "hookflow fmt: " + missing + ": no such file or directory"},
		{[]string{"test", missing}, "", "hookflow test: " + missing + ": no such file or directory"},
		{[]string{"test", missing + "/..."}, "", "hookflow test: " + missing + ": no such file or directory"},
		{append(append([]string{"serve"}, local...), missing), "", "hookflow serve: " + missing + ": no such file or directory"},
		{[]string{"worker", "--redis", "redis://127.0.0.1:1", missing}, "", "hookflow worker: " + missing + ": no such file or directory"},
		{[]string{"run", "--dir", missing, "w"}, "", "hookflow run: --dir " + missing + ": no such file or directory"},
		{[]string{"run", "w"}, "HOOKFLOW_RUN_DIR=" + missing, "hookflow run: HOOKFLOW_RUN_DIR " + missing + ": no such file or directory"},
		{[]string{"runs", "export-test", "r1", "-o", filepath.Join(missing, "r1.test.hcl")}, "",
			"hookflow runs export-test: --output " + missing + ": no such file or directory"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0", dir}, "", "hookflow serve: --admin: the admin API would listen on 0.0.0.0:0 without a token"},
		{[]string{"serve", "--listen", "127.0.0.1:0", dir}, "HOOKFLOW_ADMIN=0.0.0.0:0", "hookflow serve: HOOKFLOW_ADMIN: the admin API would listen on 0.0.0.0:0 without a token"},
	} {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if name, value, ok := strings.Cut(tt.env, "="); ok {
				t.Setenv(name, value)
			}
			if !strings.HasPrefix(tt.env, "HOOKFLOW_ADMIN=") {
				t.Setenv("HOOKFLOW_ADMIN", "127.0.0.1:1") // no admin API is asked: nothing listens there
			}
			_, stderr, err := hookflowCLI(t, tt.args...)
			if err != errUsage || !strings.Contains(stderr, tt.says) {
				t.Errorf("%v, want exit status 2 and %q:\n%s", err, tt.says, stderr)
			}
		})
	}
}
