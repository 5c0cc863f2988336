package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// A --redis URL whose user, password or database the Redis refuses is a bad value,
// exit status 2, said in one line naming where the URL came from: waiting does not
// change the answer, so it is no "cannot reach Redis" (3, worth retrying later). A user
// whose ACL denies a command hookflow runs is 1, as one denied hookflow's keys. A Redis
// that does not answer stays 3.
func TestRedisRefusesTheURL(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	b := redistest.Real(t)
	addr := strings.TrimPrefix(b.URL, "redis://")
	aclUser(t, b, "app", "+@all", "~*")
	noPing := aclUser(t, b, "noping", "+@all", "-ping", "~*")
	down := refusingAddr(t)
	for _, c := range []struct {
		name, url string
		env       bool // HOOKFLOW_REDIS, not --redis
		noAuth    bool // the default user has a password by then
		code      int
		says      []string
	}{
		{"no such database", "redis://" + addr + "/99999", false, false, exitUsage,
			[]string{"hookflow: --redis: the Redis at " + addr + " has no database of the URL's number", "ERR DB index is out of range"}},
		{"a wrong password", "redis://app:wrong@" + addr + "/0", false, false, exitUsage,
			[]string{"hookflow: --redis: the Redis at " + addr + " refused the URL's user or password", "WRONGPASS"}},
		{"a wrong password from the environment", "redis://app:wrong@" + addr + "/0", true, false, exitUsage,
			[]string{"hookflow: HOOKFLOW_REDIS: the Redis at " + addr + " refused the URL's user or password"}},
		{"no such user", "redis://nobody:pw@" + addr + "/0", false, false, exitUsage, []string{"WRONGPASS"}},
		{"an ACL that denies PING", noPing, false, false, exitFailed, []string{"NOPERM", "'ping'", "~hf:* ~{hf:*"}},
		{"nothing listening", "redis://" + down + "/0", false, false, exitNoReach, []string{"cannot reach Redis: " + down}},
		{"no password given", "redis://" + addr + "/0", false, true, exitUsage,
			[]string{"hookflow: --redis: the Redis at " + addr + " needs a password, and the URL gives none", "NOAUTH"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.noAuth {
				if err := b.Client.Do(context.Background(), "ACL", "SETUSER", "default", "resetpass", ">right").Err(); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"worker", "--redis", c.url, dir}
			if c.env {
				t.Setenv("HOOKFLOW_REDIS", c.url)
				args = []string{"worker", dir}
			}
			var stderr bytes.Buffer
			err := run(context.Background(), args, nil, io.Discard, &stderr)
			code := exitStatus(err, &stderr)
			out := stderr.String()
			if code != c.code {
				t.Errorf("exit status %d, want %d:\n%s", code, c.code, out)
			}
			for _, want := range c.says {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "hookflow: "); n != 1 {
				t.Errorf("%d lines of error, want 1:\n%s", n, out)
			}
			if c.code != exitNoReach && strings.Contains(out, "cannot reach") {
				t.Errorf("a refusal said as an outage:\n%s", out)
			}
			if strings.Contains(out, "wrong") {
				t.Errorf("the password is shown:\n%s", out)
			}
		})
	}
}
