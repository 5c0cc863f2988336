package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/testutil"
)

// A --redis URL that does not parse is refused, exit status 2, saying how to write it,
// without quoting any piece of its password: a password holding '/', '?', '#' or '@'
// that is not percent-encoded made net/url take its start for a port
// (`invalid port ":Sup3rSecret" after host`) and go-redis its end for a path
// (`invalid URL path: /5678@…`), both quoted whole; and a Sentinel password holding
// '&' or a bad escape was quoted as an unknown option or a bad escape. So on the
// command line, in HOOKFLOW_REDIS and for worker alike.
func TestRedisURLErrorsHideThePassword(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	down := refusingAddr(t)
	for _, c := range []struct {
		name, url, password, says string
	}{
		{"a '/' in the password", "redis://u:Sup3rSecret/x@" + down + "/0", "Sup3rSecret/x", "percent-encoded (%2F, %3F, %23, %40)"},
		{"a '#' in the password", "redis://u:Sec#ret1@" + down + "/0", "Sec#ret1", "percent-encoded (%2F, %3F, %23, %40)"},
		{"a '?' in the password", "redis://u:Sec?ret1@" + down + "/0", "Sec?ret1", "percent-encoded (%2F, %3F, %23, %40)"},
		{"a '/' between digits", "redis://u:1234/5678@" + down + "/0", "1234/5678", "percent-encoded (%2F, %3F, %23, %40)"},
		{"a '#' between digits, no user", "redis://:1234#5678@" + down + "/0", "1234#5678", "percent-encoded (%2F, %3F, %23, %40)"},
		{"TLS, a '?' and an '='", "rediss://u:9876?Qz=Wk42@" + down + "/0", "9876?Qz=Wk42", "percent-encoded (%2F, %3F, %23, %40)"},
		{"a bad escape", "redis://u:Qx7%zzWv9@" + down + "/0", "Qx7%zzWv9", "percent-encode it"},
		{"a space", "redis://u:Qx7 Wv9@" + down + "/0", "Qx7 Wv9", "percent-encode it"},
		{"sentinel, a '?' in the password", "redis+sentinel://u:Sec?ret1@" + down + "/mymaster/0", "Sec?ret1", "percent-encoded (%2F, %3F, %23, %40)"},
		{"sentinel, a '/' in the password", "rediss+sentinel://u:Sup3rSecret/x@" + down + "/mymaster", "Sup3rSecret/x", "percent-encoded (%2F, %3F, %23, %40)"},
		{"sentinel password with '&'", "redis+sentinel://" + down + "/mymaster?sentinel_password=Qx7&Wv9Zk", "Qx7&Wv9Zk", "must be percent-encoded (%26)"},
		{"sentinel password with a bad escape", "redis+sentinel://" + down + "/mymaster?sentinel_password=Qx7%zzWv9", "Qx7%zzWv9", "write '%' as %25"},
	} {
		for _, how := range []struct {
			name string
			args []string
			env  bool
		}{
			{"serve --redis", []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--redis", c.url, dir}, false},
			{"serve HOOKFLOW_REDIS", []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", dir}, true},
			{"worker --redis", []string{"worker", "--redis", c.url, dir}, false},
			{"worker HOOKFLOW_REDIS", []string{"worker", dir}, true},
		} {
			t.Run(c.name+"/"+how.name, func(t *testing.T) {
				if how.env {
					t.Setenv("HOOKFLOW_REDIS", c.url)
				}
				var stderr bytes.Buffer
				err := run(context.Background(), how.args, nil, io.Discard, &stderr)
				if code := exitStatus(err, &stderr); code != exitUsage {
					t.Errorf("exit status %d, want 2", code)
				}
				out := stderr.String()
				if !strings.Contains(out, c.says) {
					t.Errorf("stderr does not say %q:\n%s", c.says, out)
				}
				if piece := pieceOf(out, c.password); piece != "" {
					t.Errorf("stderr holds %q of the password %q:\n%s", piece, c.password, out)
				}
			})
		}
	}
}

// pieceOf returns the longest piece of secret, of 3 bytes or more, that text holds;
// "" for none.
func pieceOf(text, secret string) string {
	for n := len(secret); n >= minSecret; n-- {
		for i := 0; i+n <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+n]) {
				return secret[i : i+n]
			}
		}
	}
	return ""
}

// What the parsers say of a URL whose user info is right, but not its host or
// options, is still said, as nothing of the password is in it.
func TestRedisURLErrorsStillSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ url, says string }{
		{"redis://u:Qx7Wv9@127.0.0.1:port/0", `invalid port ":port" after host`},
		{"redis://u:Qx7Wv9@127.0.0.1:1/x", `invalid database number: "x"`},
		{"redis://u:Qx7Wv9@127.0.0.1:1/0?dial_timeot=3", "unexpected option: dial_timeot"},
		{"notaurl", "the URL must start with redis://, rediss://"},
		{"http://127.0.0.1:1", "the URL must start with redis://, rediss://"},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, _, _, err := openRedis(context.Background(), c.url, redisTLS{}, 1, discard)
			var u *usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "Qx7") {
				t.Errorf("error %v, want a usage error saying %q", err, c.says)
			}
		})
	}
}

// scrub hides the password and the pieces a misread URL would quote of it, as written
// and decoded; and a Sentinel password. The user is shown.
func TestRedisURLScrub(t *testing.T) {
	u, err := splitRedisURL("redis+sentinel://app-user:p%40ss%2Fw0rd@h:26379/m?sentinel_password=Qx7%26Wv9")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"user app-user", "user app-user"},
		{"p%40ss%2Fw0rd and p@ss/w0rd", "xxxxx and xxxxx"},
		{"w0rd alone", "xxxxx alone"},
		{"Qx7&Wv9 and Qx7%26Wv9", "xxxxx and xxxxx"},
		{"h:26379/m", "h:26379/m"},
	} {
		if got := u.scrub(c.in); got != c.want {
			t.Errorf("scrub(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := redactedRedisURL("rediss://app:s3cret@redis.internal:6380/2"); got != "rediss://app:xxxxx@redis.internal:6380/2" {
		t.Errorf("redacted %q", got)
	}
	// User info without ':' may be a password written without it.
	if got := redactedRedisURL("rediss://Qx7Wv9Zk42@redis.internal:6380/2"); got != "rediss://xxxxx@redis.internal:6380/2" {
		t.Errorf("redacted %q", got)
	}
}

// The user is no secret: a host or a word that holds it is shown as it is, not as
// "xxxxx-redis" for a user hookflow or "xxxxxlication" for a user app.
func TestRedisURLScrubKeepsTheUser(t *testing.T) {
	for _, c := range []struct{ url, msg string }{
		{"redis://hookflow:S3cretPassw0rd@hookflow-redis:30250/0", "cannot reach Redis: hookflow-redis:30250: dial tcp: lookup hookflow-redis: no such host"},
		{"redis://app:S3cretPassw0rd@127.0.0.1:30250/0", "the application refused: WRONGPASS invalid username-password pair"},
	} {
		u, err := splitRedisURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.hide(&unreachableError{errors.New(c.msg)}).Error(); !strings.Contains(got, c.msg) {
			t.Errorf("%s: shown as %q", c.url, got)
		}
		if got := u.hide(errors.New("auth S3cretPassw0rd")).Error(); got != "auth xxxxx" {
			t.Errorf("%s: the password is shown as %q", c.url, got)
		}
	}
}

// --redis-file, and HOOKFLOW_REDIS_FILE, name a file holding the URL, as
// --admin-token-file does the token: the password stays off the command line.
func TestRedisURLFromAFile(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	down := refusingAddr(t)
	file := filepath.Join(t.TempDir(), "redis-url")
	if err := os.WriteFile(file, []byte("redis://:Qx7Wv9Zk42@"+down+"/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		says string
	}{
		{"serve --redis-file", append(serve, "--redis-file", file, dir), nil, exitNoReach, "cannot reach Redis: " + down},
		{"worker HOOKFLOW_REDIS_FILE", []string{"worker", dir}, map[string]string{"HOOKFLOW_REDIS_FILE": file}, exitNoReach, "cannot reach Redis: " + down},
		{"both", append(serve, "--redis", "redis://"+down, "--redis-file", file, dir), nil, exitUsage, "--redis and --redis-file: give one"},
		{"a missing file", append(serve, "--redis-file", file+".missing", dir), nil, exitUsage, "--redis-file: open " + file + ".missing"},
		{"a missing file from the environment", append(serve, dir), map[string]string{"HOOKFLOW_REDIS_FILE": file + ".missing"}, exitUsage, "HOOKFLOW_REDIS_FILE: open " + file + ".missing"},
		// A URL given where a file's path goes is not quoted, password and all.
		{"a URL", append(serve, "--redis-file", "redis://admin:Qx7Wv9Zk42@"+down+"/0", dir), nil, exitUsage, "--redis-file: takes a file path, and this looks like a URL"},
		{"a URL from the environment", append(serve, dir), map[string]string{"HOOKFLOW_REDIS_FILE": "redis://admin:Qx7Wv9Zk42@" + down + "/0"}, exitUsage, "HOOKFLOW_REDIS_FILE: takes a file path"},
		{"a URL without its scheme", append(serve, "--redis-file", "admin:Qx7Wv9Zk42@"+down, dir), nil, exitUsage, "looks like a URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := run(context.Background(), c.args, nil, io.Discard, &stderr)
			if code := exitStatus(err, &stderr); code != c.code || !strings.Contains(stderr.String(), c.says) {
				t.Errorf("exit status %d, want %d saying %q:\n%s", code, c.code, c.says, stderr.String())
			}
			if strings.Contains(stderr.String(), "Qx7") {
				t.Errorf("the password is shown:\n%s", stderr.String())
			}
		})
	}
}
