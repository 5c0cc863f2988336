package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// buildVerifier loads one webhook with the given verify block and returns its verifier.
func buildVerifier(t *testing.T, verify string) verifier {
	t.Helper()
	src := "workflow \"w\" {\n  trigger \"webhook\" {\n    path = \"/v\"\n" + verify + "\n  }\n}"
	set, diags := loadHooks("v.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set.Workflow("w").Triggers[0].Config.(*Webhook).verify
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestVerifyVectors checks each preset against the documented test vectors.
func TestVerifyVectors(t *testing.T) {
	slackBody, err := os.ReadFile("testdata/slack-slash-command.form")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, verify string
		h            http.Header
		body         string
		now          time.Time
	}{
		{"github", `verify "github" { secrets = ["It's a Secret to Everybody"] }`,
			header("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
			"Hello, World!", time.Now()},
		{"standard", `verify "standard" { secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }`,
			header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp", "1614265330",
				"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
			`{"test": 2432232314}`, time.Unix(1614265330, 0)},
		{"slack", `verify "slack" { secrets = ["8f742231b10e8888abcd99yyyzzz85a5"] }`,
			header("X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
			string(slackBody), time.Unix(1531420618, 0)},
		{"stripe", `verify "stripe" { secrets = ["whsec_test_secret"] }`,
			header("Stripe-Signature", "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"),
			`{"id":"evt_test_webhook","object":"event"}`, time.Unix(1700000000, 0)},
		{"shopify", `verify "shopify" { secrets = ["shop-secret"] }`,
			header("X-Shopify-Hmac-Sha256", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="),
			`{"id":1}`, time.Now()},
		{"hmac (as GitHub)", "verify \"hmac\" {\n secrets = [\"It's a Secret to Everybody\"]\n header = \"X-Hub-Signature-256\"\n prefix = \"sha256=\"\n}",
			header("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
			"Hello, World!", time.Now()},
		{"hmac (as Shopify)", "verify \"hmac\" {\n secrets = [\"shop-secret\"]\n header = \"X-Shopify-Hmac-Sha256\"\n encoding = \"base64\"\n}",
			header("X-Shopify-Hmac-Sha256", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="), `{"id":1}`, time.Now()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := buildVerifier(t, tt.verify)
			if err := v.verify(tt.h, []byte(tt.body), tt.now); err != nil {
				t.Fatalf("the vector does not verify: %v", err)
			}
			if err := v.verify(tt.h, []byte(tt.body+" "), tt.now); !errors.Is(err, errVerify) {
				t.Errorf("a tampered body verifies: %v", err)
			}
			if err := v.verify(http.Header{}, []byte(tt.body), tt.now); !errors.Is(err, errVerify) {
				t.Errorf("no headers verifies: %v", err)
			}
			// A header sent twice, both copies valid, is refused as such: which one
			// the sender meant cannot be told.
			for name, values := range tt.h {
				twice := tt.h.Clone()
				twice[name] = append(values, values...)
				if err := v.verify(twice, []byte(tt.body), tt.now); !errors.Is(err, errVerify) || !strings.Contains(err.Error(), "sent 2 times") {
					t.Errorf("%s sent twice: %v", name, err)
				}
			}
		})
	}
}

// TestVerifyTimestamps checks the tolerance edges, both ways, for each timestamped scheme.
func TestVerifyTimestamps(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	key := []byte("k-secret-key-0123456789")
	mac := func(data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	schemes := map[string]struct {
		verify string
		h      http.Header
	}{
		"stripe": {`verify "stripe" { secrets = ["k-secret-key-0123456789"] }`,
			header("Stripe-Signature", "t=1700000000,v1="+hex.EncodeToString(mac("1700000000."+string(body))))},
		"slack": {`verify "slack" { secrets = ["k-secret-key-0123456789"] }`,
			header("X-Slack-Request-Timestamp", "1700000000", "X-Slack-Signature", "v0="+hex.EncodeToString(mac("v0:1700000000:"+string(body))))},
		"standard": {`verify "standard" { secrets = ["whsec_` + base64.StdEncoding.EncodeToString(key) + `"] }`,
			header("webhook-id", "m1", "webhook-timestamp", "1700000000",
				"webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac("m1.1700000000."+string(body))))},
	}
	for name, s := range schemes {
		v := buildVerifier(t, s.verify)
		for _, off := range []time.Duration{0, DefaultTolerance, -DefaultTolerance} {
			if err := v.verify(s.h, body, ts.Add(off)); err != nil {
				t.Errorf("%s at %v from the timestamp: %v", name, off, err)
			}
		}
		for _, off := range []time.Duration{DefaultTolerance + time.Second, -DefaultTolerance - time.Second} {
			err := v.verify(s.h, body, ts.Add(off))
			if !errors.Is(err, errVerify) || !strings.Contains(err.Error(), "beyond the tolerance") {
				t.Errorf("%s at %v from the timestamp: %v", name, off, err)
			}
		}
	}
}

// TestVerifyRotationAndSeveralSignatures: any configured secret may sign, and any
// signature in the header may match.
func TestVerifyRotationAndSeveralSignatures(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := `{"id":"evt_test_webhook","object":"event"}`
	good := "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
	v := buildVerifier(t, `verify "stripe" { secrets = ["whsec_new", "whsec_test_secret"] }`)
	for _, sig := range []string{
		"t=1700000000,v1=" + good,
		"t=1700000000,v1=" + strings.Repeat("0", 64) + ",v1=" + good + ",v0=abc",
	} {
		if err := v.verify(header("Stripe-Signature", sig), []byte(body), now); err != nil {
			t.Errorf("%s: %v", sig, err)
		}
	}
	old := buildVerifier(t, `verify "stripe" { secrets = ["whsec_new"] }`)
	if err := old.verify(header("Stripe-Signature", "t=1700000000,v1="+good), []byte(body), now); !errors.Is(err, errVerify) {
		t.Errorf("a wrong secret verifies: %v", err)
	}
	std := buildVerifier(t, `verify "standard" { secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }`)
	h := header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp", "1614265330",
		"webhook-signature", "v1,AAAA v2,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if err := std.verify(h, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)); err != nil {
		t.Errorf("standard with several signatures: %v", err)
	}
	// Svix's own names for the same headers.
	svix := header("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "svix-timestamp", "1614265330",
		"svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if err := std.verify(svix, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)); err != nil {
		t.Errorf("standard with Svix's header names: %v", err)
	}
	svix.Set("svix-signature", "v1,AAAA")
	if err := std.verify(svix, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)); !errors.Is(err, errVerify) {
		t.Errorf("a wrong Svix signature verifies: %v", err)
	}
}

func TestVerifyBasicAndBearer(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_PW", "password-2")
	basic := buildVerifier(t, "verify \"basic\" {\n username = \"zapier\"\n password = [\"password-1\", secret(\"HOOKFLOW_TEST_PW\")]\n}")
	for auth, ok := range map[string]bool{"zapier:password-1": true, "zapier:password-2": true, "zapier:password-3": false, "other:password-1": false, ":": false} {
		user, pass, _ := strings.Cut(auth, ":")
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(user, pass)
		if err := basic.verify(r.Header, nil, time.Now()); (err == nil) != ok {
			t.Errorf("basic %s: %v", auth, err)
		}
	}
	bearer := buildVerifier(t, `verify "bearer" { tokens = ["token-one", "token-two"] }`)
	for value, ok := range map[string]bool{"Bearer token-one": true, "Bearer token-two": true, "bearer token-one": true, "BEARER token-two": true, "Bearer token-3": false, "token-one": false, "": false, "Bearer ": false, "Basic token-one": false, "Bearertoken-one": false} {
		if err := bearer.verify(header("Authorization", value), nil, time.Now()); (err == nil) != ok {
			t.Errorf("bearer %q: %v", value, err)
		}
	}
}

// TestVerifiedWebhookOverHTTP sends real signed requests to the receiver.
func TestVerifiedWebhookOverHTTP(t *testing.T) {
	set, diags := loadHooks("gh.hcl", `
workflow "push" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
    max_body = "1KiB"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}
	var logs strings.Builder
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	defer srv.Close()

	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte("It's a Secret to Everybody"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	post := func(body, sig string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/github", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	body := `{"ref": "refs/heads/main"}`
	if status, answer := post(body, sign(body)); status != 202 {
		t.Errorf("signed: %d %s", status, answer)
	}
	for name, c := range map[string][2]string{
		"no signature":    {body, ""},
		"wrong signature": {body, sign(body + "x")},
		"tampered body":   {`{"ref": "refs/heads/evil"}`, sign(body)},
		"not hex":         {body, "sha256=zz"},
	} {
		if status, answer := post(c[0], c[1]); status != 401 || !strings.Contains(answer, "verification failed") {
			t.Errorf("%s: %d %s", name, status, answer)
		}
	}
	big := `{"x": "` + strings.Repeat("a", 1100) + `"}`
	if status, _ := post(big, sign(big)); status != 413 {
		t.Errorf("over max_body: %d", status)
	}
	if n := starter.count(); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
	if strings.Contains(logs.String(), "Secret to Everybody") {
		t.Error("the secret is in the log")
	}
	if !strings.Contains(logs.String(), "webhook refused") {
		t.Errorf("refusals are not logged: %s", logs.String())
	}
}

func TestWebhookAttributeErrors(t *testing.T) {
	hook := func(attrs string) string {
		return "workflow \"w\" {\n  trigger \"webhook\" {\n    path = \"/a\"\n" + attrs + "\n  }\n}"
	}
	tests := map[string]string{
		hook(`verify "gitlab" {}`):                              `Unknown verify preset "gitlab"`,
		hook(`verify "github" {}`):                              `The argument "secrets" is required`,
		hook(`verify "github" { secrets = [] }`):                "No secrets",
		hook(`verify "github" { secrets = ["{{ event.x }}"] }`): "secrets cannot use {{ }}",
		hook(`verify "hmac" { secrets = ["k-secret-key"] }`):    `The argument "header" is required`,
		hook("verify \"hmac\" {\n secrets = [\"k-secret-key\"]\n header = \"X\"\n algorithm = \"md5\"\n}"): `"sha1", "sha256" or "sha512"`,
		hook(`verify "standard" { secrets = ["whsec_%%%"] }`):                                              "Invalid Standard Webhooks secret",
		// An unknown argument does not hide the block's other mistakes.
		hook("verify \"hmac\" {\n secrets = [\"k-secret-key\"]\n header = \"X\"\n algoritm = \"sha1\"\n encoding = \"hexa\"\n}"): `"hex" or "base64"`,
		hook("verify \"github\" {\n secrets = []\n secret_key = \"k-secret-key\"\n}"):                                            "No secrets",
		hook(`verify "github" { secret = ["k-secret-key"] }`):                                                                    `Did you mean "secrets"?`,
		hook("verify \"github\" { secrets = [\"secret-a1\"] }\nverify \"github\" { secrets = [\"secret-a1\"] }"):                 "Two verify blocks",
		hook(`verify "github" { secrets = [""] }`):                                                                               "A secret is too short",
		hook(`verify "github" { secrets = ["        "] }`):                                                                       "A secret is blank",
		hook("verify \"bearer\" { tokens = [\"long-enough-token\", \"\\t\\t\\t\\t \\n\\r   \"] }"):                               "A token is blank",
		hook("verify \"basic\" {\n username = \"\"\n password = \"long-enough-pw\"\n}"):                                          "Empty username",
		hook("verify \"basic\" {\n username = \"zapier\"\n password = \"\"\n}"):                                                  "A password is too short",
		hook("verify \"basic\" {\n username = \"zapier\"\n password = []\n}"):                                                    "No password",
		hook(`verify "bearer" { tokens = ["", "long-enough-token"] }`):                                                           "A token is too short",
		hook("verify \"hmac\" {\n secrets = [\"long-enough\"]\n header = \"\"\n}"):                                               "Empty header",
		hook("verify \"hmac\" {\n secrets = [\"long-enough\"]\n header = \"X-Signature:\"\n}"):                                   `"X-Signature:" is not a valid header name`,
		hook(`verify "standard" { secrets = ["whsec_"] }`):                                                                       "A secret is too short",
		hook(`verify "standard" { secrets = ["whsec_AAAAAAAAAAA="] }`):                                                           "Invalid Standard Webhooks secret",
		hook(`response = "later"`):                               `"async" or "sync"`,
		hook(`max_body = "1TB"`):                                 "with a unit",
		hook(`max_body = "100"`):                                 `without quotes: write max_body = 100 for 100 bytes, or give it a unit, as in "100KiB"`,
		hook(`max_body = "64MiB"`):                               "between 1 byte and 32MiB",
		hook(`rate_limit = "fast"`):                              "Invalid rate_limit",
		hook(`rate_limit = "0/s"`):                               "Invalid rate_limit",
		hook(`dedupe_window = "a while"`):                        `Invalid duration "a while"`,
		hook(`dedupe = "{{ steps.a.id }}"`):                      "No step has run in a trigger",
		hook("response = \"sync\"\nresponse_timeout = \"2m\""):   "response_timeout out of range",
		hook("response = \"sync\"\nresponse_timeout = \"10ms\""): "response_timeout out of range",
	}
	for src, want := range tests {
		_, diags := loadHooks("t.hcl", src)
		if got := diagsText(diags, false); !strings.Contains(got, want) {
			t.Errorf("%s:\n got %s\nwant %q", src, got, want)
		}
	}
	src := hook(`response_timeout = "5s"`) // a warning, not an error
	if _, diags := loadHooks("t.hcl", src); diags.HasErrors() || !strings.Contains(diagsText(diags, true), `response_timeout without response = "sync"`) {
		t.Errorf("%s:\n got %s", src, diagsText(diags, true))
	}
}

// diagsText is every error of diags, and with warnings every warning, one a line
// (diags.Error tells the first alone; a secret written in a test's file is a warning).
func diagsText(diags hcl.Diagnostics, warnings bool) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Severity == hcl.DiagError || warnings {
			fmt.Fprintf(&b, "%s: %s; %s\n", d.Subject, d.Summary, d.Detail)
		}
	}
	if b.Len() == 0 {
		return "no diagnostics"
	}
	return b.String()
}

func TestWebhookSettings(t *testing.T) {
	set, diags := loadHooks("t.hcl", `
workflow "w" {
  trigger "webhook" {
    path             = "/a"
    dedupe           = "{{ event.headers['x-github-delivery'] }}"
    dedupe_window    = "2d"
    response         = "sync"
    response_timeout = "3s"
    max_body         = "512KiB"
    rate_limit       = "50/10s"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	w := set.Workflow("w").Triggers[0].Config.(*Webhook)
	if w.DedupeWindow != 48*time.Hour || !w.Sync || w.ResponseTimeout != 3*time.Second || w.MaxBody != 512<<10 ||
		*w.RateLimit != (RateLimit{N: 50, Per: 10 * time.Second}) || w.Dedupe == nil {
		t.Errorf("webhook %+v", w)
	}
	if len(diags) != 0 {
		t.Errorf("diagnostics: %s", diags.Error())
	}
}

// A webhook without its settings takes the defaults docs/language.md states:
// POST, 1 MiB bodies, delivery ids remembered for 24h, answered 202 once queued.
func TestWebhookDefaults(t *testing.T) {
	set, diags := loadHooks("t.hcl", `
workflow "w" {
  trigger "webhook" {
    path = "/a"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	w := set.Workflow("w").Triggers[0].Config.(*Webhook)
	if w.Method != "POST" || w.MaxBody != 1<<20 || w.DedupeWindow != 24*time.Hour || w.Sync ||
		w.ResponseTimeout != 10*time.Second || w.RateLimit != nil {
		t.Errorf("webhook %+v", w)
	}
	doc, err := os.ReadFile("../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| `dedupe_window` | how long a delivery id is remembered | `\"24h\"` |",
		"| `max_body` | largest body taken: a number of bytes, without quotes (`65536`), or `\"512KiB\"`, `\"2MB\"`, up to `\"32MiB\"`; past it, 413 | `\"1MiB\"` |",
		"| `method` | `POST`, `PUT`, `PATCH`, `GET` or `DELETE` | `POST` |",
	} {
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/language.md lacks the row %s", row)
		}
	}
	if doc, err = os.ReadFile("../docs/security.md"); err != nil || !strings.Contains(string(doc), "within `dedupe_window` (24 h)") {
		t.Errorf("docs/security.md does not give dedupe_window's default as 24 h (%v)", err)
	}
}

func TestSharedPathsMustVerifyAlike(t *testing.T) {
	wf := func(name, verify string) string {
		return fmt.Sprintf("workflow %q {\n  trigger \"webhook\" {\n    path = \"/shared\"\n%s\n  }\n}\n", name, verify)
	}
	github := `verify "github" { secrets = ["secret-a1"] }`
	load := func(src string) string {
		_, diags := loadHooks("s.hcl", src)
		return diagsText(diags, false)
	}
	if got := load(wf("a", github) + wf("b", github)); got != "no diagnostics" {
		t.Errorf("alike: %s", got)
	}
	if got := load(wf("a", github) + wf("b", "")); !strings.Contains(got, `Workflow "b"'s webhook on POST /shared verifies with nothing, but workflow "a"'s (at s.hcl:4:1) with "github"`) {
		t.Errorf("one unverified: %s", got)
	}
	if got := load(wf("a", github) + wf("b", `verify "github" { secrets = ["secret-b1"] }`)); !strings.Contains(got, "verify differently") {
		t.Errorf("other secret: %s", got)
	}
	if strings.Contains(load(wf("a", github)+wf("b", `verify "github" { secrets = ["other-secret"] }`)), "other-secret") {
		t.Error("a secret is in the message")
	}
}

// Webhooks sharing a path verify alike when their effective settings are equal: the
// order of secrets, a repeated one, and a setting written as its default do not
// matter. When they differ, the message names the settings, never a secret's value.
func TestSharedPathsCompareEffectiveSettings(t *testing.T) {
	wf := func(name, verify string) string {
		return fmt.Sprintf("workflow %q {\n  trigger \"webhook\" {\n    path = \"/shared\"\n%s\n  }\n}\n", name, verify)
	}
	load := func(a, b string) string {
		_, diags := loadHooks("s.hcl", wf("a", a)+wf("b", b))
		return diagsText(diags, false)
	}
	const key = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, c := range []struct{ name, a, b, want string }{
		{"secrets in another order", `verify "stripe" { secrets = ["secret-one1", "secret-two2"] }`,
			`verify "stripe" { secrets = ["secret-two2", "secret-one1", "secret-two2"] }`, ""},
		{"the default tolerance written", `verify "stripe" { secrets = ["secret-one1"] }`,
			`verify "stripe" {
  secrets   = ["secret-one1"]
  tolerance = "300s"
}`, ""},
		{"a standard key with and without its prefix", `verify "standard" { secrets = ["whsec_` + key + `"] }`,
			`verify "standard" { secrets = ["` + key + `"] }`, ""},
		{"the hmac defaults written", `verify "hmac" {
  secrets = ["secret-one1"]
  header  = "linear-signature"
}`, `verify "hmac" {
  secrets   = ["secret-one1"]
  header    = "Linear-Signature"
  algorithm = "sha256"
  encoding  = "hex"
}`, ""},
		{"another tolerance and secret", `verify "stripe" { secrets = ["secret-one1"] }`,
			`verify "stripe" {
  secrets   = ["secret-one1", "secret-new3"]
  tolerance = "10m"
}`, `Workflow "b"'s webhook on POST /shared and workflow "a"'s (at s.hcl:4:1) both verify with "stripe", but the secrets differ and tolerance is 10m here and 5m there.`},
		{"another encoding", `verify "hmac" {
  secrets = ["secret-one1"]
  header  = "X-Sig"
}`, `verify "hmac" {
  secrets  = ["secret-one1"]
  header   = "X-Sig"
  encoding = "base64"
}`, "but encoding is base64 here and hex there."},
		{"another user", `verify "basic" {
  username = "twilio"
  password = ["secret-one1"]
}`, `verify "basic" {
  username = "twilio2"
  password = ["secret-one1"]
}`, `but username is "twilio2" here and "twilio" there.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := load(c.a, c.b)
			switch {
			case c.want == "" && got != "no diagnostics":
				t.Errorf("alike, yet: %s", got)
			case c.want != "" && !strings.Contains(strings.Join(strings.Fields(got), " "), c.want):
				t.Errorf("got %s\nwant it to say %s", got, c.want)
			}
			if strings.Contains(got, "secret-new3") || strings.Contains(got, "secret-one1") {
				t.Errorf("a secret is in the message: %s", got)
			}
		})
	}
}

func TestSharedPathRules(t *testing.T) {
	load := func(src string) string {
		_, diags := loadHooks("p.hcl", src)
		return diags.Error()
	}
	hook := func(path string) string {
		return fmt.Sprintf("  trigger \"webhook\" {\n    path = %q\n  }\n", path)
	}
	if got := load("workflow \"a\" {\n" + hook("/gh/{repo}") + "}\nworkflow \"b\" {\n" + hook("/gh/{name}") + "}\n"); !strings.Contains(got, "name the parameters alike") {
		t.Errorf("parameters named differently: %s", got)
	}
	if got := load("workflow \"a\" {\n" + hook("/w") + hook("/w/") + "}\n"); !strings.Contains(got, `Workflow "a" already has a webhook on POST /w`) {
		t.Errorf("one workflow twice on a path: %s", got)
	}
	if got := load("workflow \"b\" {\n" + hook("/w") + "}\nworkflow \"a\" {\n" + hook("/w") + hook("/w") + "}\n"); !strings.Contains(got, `Workflow "a" already has a webhook on POST /w`) {
		t.Errorf("one workflow twice on a path another shares: %s", got)
	}
	sync := "  trigger \"webhook\" {\n    path = \"/s\"\n    response = \"sync\"\n  }\n"
	if got := load("workflow \"a\" {\n" + sync + "}\nworkflow \"b\" {\n" + hook("/s") + "}\nworkflow \"c\" {\n" + sync + "}\n"); !strings.Contains(got, `keep response = "sync" on one of them`) || !strings.Contains(got, `Workflow "c"`) {
		t.Errorf("two sync webhooks on a path: %s", got)
	}
	if got := load("workflow \"a\" {\n" + sync + "}\nworkflow \"b\" {\n" + hook("/s") + "}\n"); got != "no diagnostics" {
		t.Errorf("one sync webhook on a shared path: %s", got)
	}
	if got := load("workflow \"a\" {\n" + hook("/gh/{repo}") + "}\nworkflow \"b\" {\n" + hook("/gh/{repo}") + "}\n"); got != "no diagnostics" {
		t.Errorf("alike: %s", got)
	}
}

// A timestamp out of tolerance is said to be old, or ahead of the clock: the reason a
// sender reads in the 401.
func TestCheckTimestampSaysWhich(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for ts, want := range map[string]string{
		"1799999599": "the signed timestamp is 6m41s old, beyond the tolerance of 5m",
		"1800000400": "the signed timestamp is 6m40s ahead of this clock, beyond the tolerance of 5m",
		"1799999800": "",
		// Far enough that the skew saturates: refused, without naming it.
		"1000000000000000":     `the signed timestamp is not a time of this century`,
		"-9000000000000000000": `the signed timestamp is not a time of this century`,
		"SEKRET-ts-1":          `the signed timestamp is not a Unix time in seconds`,
	} {
		err := checkTimestamp(ts, now, 5*time.Minute)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", ts, err, want)
		}
	}
}

// A 401 of a basic or bearer webhook names the scheme it asks for, so that a sender
// that sends credentials only when challenged sends them.
func TestUnauthorizedNamesTheScheme(t *testing.T) {
	set, diags := loadHooks("auth.hcl", `
workflow "basic" {
  trigger "webhook" {
    path = "/basic"
    verify "basic" {
      username = "zapier"
      password = ["password-1"]
    }
  }
}
workflow "bearer" {
  trigger "webhook" {
    path = "/bearer"
    verify "bearer" {
      tokens = ["token-one-1"]
    }
  }
}
workflow "github" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["secret-one-1"]
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := NewWebhooks(&recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{"basic": `Basic realm="hookflow", charset="UTF-8"`, "bearer": `Bearer realm="hookflow"`, "github": ""} {
		resp, err := http.Post(srv.URL+"/hooks/"+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d, WWW-Authenticate %q; want 401 and %q", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
		}
	}
}

// TestRefusedWebhookLogHidesSecretPath: a webhook whose path holds a secret is logged
// with it redacted when a request is refused.
func TestRefusedWebhookLogHidesSecretPath(t *testing.T) {
	t.Setenv("HOOK_PATH_TOKEN", "pathtoken-S3cr3t-aaaa")
	set, diags := loadHooks("sp.hcl", `
workflow "secret_path" {
  trigger "webhook" {
    path = "/sp/${secret("HOOK_PATH_TOKEN")}"
    verify "bearer" {
      tokens = ["a-bearer-token-long-enough"]
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs strings.Builder
	h := NewWebhooks(&recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}},
		slog.New(slog.NewTextHandler(&logs, nil)), nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/hooks/sp/pathtoken-S3cr3t-aaaa", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unsigned: %d, want 401", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "S3cr3t") || !strings.Contains(logs.String(), "path=/hooks/sp/[redacted]") {
		t.Errorf("the refusal's log line: %s", logs.String())
	}
}

// An hmac header named in any case is the header a sender sends, in Go's canonical
// form, sent once.
func TestHMACHeaderInAnyCase(t *testing.T) {
	v := buildVerifier(t, "verify \"hmac\" {\n secrets = [\"lin-secret-0123\"]\n header = \"linear-signature\"\n}")
	m := hmac.New(sha256.New, []byte("lin-secret-0123"))
	m.Write([]byte(`{"a":1}`))
	sig := hex.EncodeToString(m.Sum(nil))
	if err := v.verify(header("Linear-Signature", sig), []byte(`{"a":1}`), time.Now()); err != nil {
		t.Errorf("signed: %v", err)
	}
	twice := header("Linear-Signature", sig)
	twice.Add("LINEAR-SIGNATURE", sig)
	if err := v.verify(twice, []byte(`{"a":1}`), time.Now()); err == nil ||
		!strings.Contains(err.Error(), "sent 2 times") {
		t.Errorf("sent twice: %v", err)
	}
}

// A refusal names the signature header as the file spells it, and says when a
// signature is hex where the header carries base64 (Shopify's), the sender's usual
// mistake: hex digits decode as base64 too, to the wrong length.
func TestVerifyRefusalsSayWhatIsWrong(t *testing.T) {
	body := []byte(`{"id":727}`)
	mac := hmac.New(sha256.New, []byte("shpss_secret"))
	mac.Write(body)
	sum := mac.Sum(nil)
	woo := buildVerifier(t, `verify "hmac" {
  header   = "X-WC-Webhook-Signature"
  encoding = "base64"
  secrets  = ["shpss_secret"]
}`)
	shopify := buildVerifier(t, `verify "shopify" { secrets = ["shpss_secret"] }`)
	for _, c := range []struct {
		name string
		v    verifier
		h    http.Header
		want string
	}{
		{"no header", woo, header(), "no X-WC-Webhook-Signature header"},
		{"not base64", woo, header("X-WC-Webhook-Signature", "!!"), "X-WC-Webhook-Signature is not base64"},
		{"hex where base64", woo, header("X-WC-Webhook-Signature", hex.EncodeToString(sum)),
			"the X-WC-Webhook-Signature signature does not match: it is hex, where X-WC-Webhook-Signature is base64"},
		{"shopify, hex", shopify, header("X-Shopify-Hmac-Sha256", hex.EncodeToString(sum)),
			"it is hex, where X-Shopify-Hmac-Sha256 is base64"},
		{"a wrong base64 signature", shopify, header("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(sum[1:])),
			"the X-Shopify-Hmac-Sha256 signature does not match"},
	} {
		err := c.v.verify(c.h, body, time.Now())
		if !errors.Is(err, errVerify) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		}
		if c.name == "a wrong base64 signature" && strings.Contains(err.Error(), "hex") {
			t.Errorf("%s: %v, a base64 signature taken for hex", c.name, err)
		}
	}
	if err := shopify.verify(header("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(sum)), body, time.Now()); err != nil {
		t.Errorf("the right signature: %v", err)
	}
}

// The standard preset verifies with the webhook-… headers when all three were sent,
// else with Svix's svix-… ones when all three were: a stray header of the other set
// is left alone, as Svix's own verifier leaves it. A refusal names the headers
// missing from the set the request started.
func TestStandardHeaderSets(t *testing.T) {
	v := buildVerifier(t, `verify "standard" { secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }`)
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	const id, ts, sig = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	for _, c := range []struct {
		name string
		h    http.Header
		want string // "" verifies
	}{
		{"svix's", header("svix-id", id, "svix-timestamp", ts, "svix-signature", sig), ""},
		{"svix's and a stray webhook-id", header("svix-id", id, "svix-timestamp", ts, "svix-signature", sig, "webhook-id", "stray"), ""},
		{"the standard's and a stray svix-id", header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig, "svix-id", "stray"), ""},
		{"the standard's, wrong, beside svix's", header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", "v1,AAAA",
			"svix-id", id, "svix-timestamp", ts, "svix-signature", sig), "the webhook-signature does not match"},
		{"svix's, wrong", header("svix-id", id+"x", "svix-timestamp", ts, "svix-signature", sig), "the svix-signature does not match"},
		{"none", header(), "no webhook-id, webhook-timestamp or webhook-signature header (nor Svix's svix-id, svix-timestamp and svix-signature)"},
		{"svix's, no signature", header("svix-id", id, "svix-timestamp", ts), "no svix-signature header"},
		{"the standard's id only", header("webhook-id", id), "no webhook-timestamp or webhook-signature header"},
		{"some of each", header("webhook-id", id, "svix-id", id, "svix-timestamp", ts),
			"neither set of headers is whole: no webhook-timestamp or webhook-signature, and no svix-signature"},
	} {
		err := v.verify(c.h, body, now)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.Is(err, errVerify) || !strings.HasSuffix(err.Error(), ": "+c.want)):
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		}
	}
}

// A timestamp that is not one, sent in a credential header (Stripe-Signature) or
// beside one (X-Slack-Request-Timestamp), is refused without being quoted: neither the
// 401 nor the log holds what the sender wrote there.
func TestBadTimestampIsNotQuoted(t *testing.T) {
	set, diags := loadHooks("ts.hcl", `
workflow "stripe" {
  trigger "webhook" {
    path = "/stripe"
    verify "stripe" {
      secrets = ["whsec_stripe-1"]
    }
  }
}
workflow "slack" {
  trigger "webhook" {
    path = "/slack"
    verify "slack" {
      secrets = ["slack-secret-1"]
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	starter := &recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}
	var logs strings.Builder
	h := NewWebhooks(starter, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, headers := range map[string]map[string]string{
		"/stripe": {"Stripe-Signature": "t=junk-4d2e8f01,v1=00"},
		"/slack":  {"X-Slack-Request-Timestamp": "junk-4d2e8f02", "X-Slack-Signature": "v0=00"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/hooks"+path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(answer), "the signed timestamp is not a Unix time") ||
			strings.Contains(string(answer), "junk-4d2e8f") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, answer)
		}
	}
	if strings.Contains(logs.String(), "junk-4d2e8f") || !strings.Contains(logs.String(), "not a Unix time") {
		t.Errorf("the log:\n%s", logs.String())
	}
}

// A signature header whose signature is not in its encoding says so, rather than that
// it has none: Stripe's v1= that is not hex, a Standard Webhooks v1 that is not base64,
// GitHub's sha256= and Slack's v0= that are not hex. Over HTTP, the 401 says why, and
// neither it nor the log quotes the signature sent.
func TestVerifySaysASignatureIsNotInItsEncoding(t *testing.T) {
	body := []byte(`{"id": 1}`)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	stripe := buildVerifier(t, `verify "stripe" { secrets = ["whsec_stripe-1"] }`)
	mac := hmac.New(sha256.New, []byte("whsec_stripe-1"))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	good := hex.EncodeToString(mac.Sum(nil))
	standard := buildVerifier(t, `verify "standard" { secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }`)
	github := buildVerifier(t, `verify "github" { secrets = ["secret-one-1"] }`)
	slack := buildVerifier(t, `verify "slack" { secrets = ["slack-secret-1"] }`)
	for _, c := range []struct {
		name string
		v    verifier
		h    http.Header
		want string // "" verifies
	}{
		{"stripe, v1 not hex", stripe, header("Stripe-Signature", "t="+ts+",v1="+good+"XX"), "Stripe-Signature's v1= signature is not hex"},
		{"stripe, no v1", stripe, header("Stripe-Signature", "t="+ts+",v0="+good), "Stripe-Signature has no v1= signature"},
		{"stripe, no t", stripe, header("Stripe-Signature", "v1="+good), "Stripe-Signature has no t= timestamp"},
		{"stripe, neither", stripe, header("Stripe-Signature", "whatever"), "Stripe-Signature has no t= timestamp and no v1= signature"},
		{"stripe, a good v1 beside one not hex", stripe, header("Stripe-Signature", "t="+ts+",v1=zz,v1="+good), ""},
		{"stripe, a wrong v1 beside one not hex", stripe, header("Stripe-Signature", "t="+ts+",v1=zz,v1="+good[2:]+"00"),
			"the Stripe-Signature does not match (one of its v1= signatures is not hex)"},
		{"standard, v1 not base64", standard, header("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", "v1,!!not-base64!!"),
			"webhook-signature's v1 signature is not base64"},
		{"standard, no v1", standard, header("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", "v1a,AAAA"),
			"webhook-signature has no v1 signature"},
		{"github, not hex", github, header("X-Hub-Signature-256", "sha256="+good+"XX"), "X-Hub-Signature-256 is not hex"},
		{"slack, not hex", slack, header("X-Slack-Request-Timestamp", ts, "X-Slack-Signature", "v0="+good+"XX"), "X-Slack-Signature is not v0=<hex>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.verify(c.h, body, now)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want it verified", err)
			case c.want != "" && (!errors.Is(err, errVerify) || !strings.HasSuffix(err.Error(), ": "+c.want)):
				t.Errorf("%v, want it to say %q", err, c.want)
			}
		})
	}

	set, diags := loadHooks("stripe.hcl", `
workflow "stripe" {
  trigger "webhook" {
    path = "/stripe"
    verify "stripe" {
      secrets = ["whsec_stripe-1"]
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs strings.Builder
	h := NewWebhooks(&recordingStarter{events: map[string][]*workflows.Event{}, failed: map[string]string{}}, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/hooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", "t="+strconv.FormatInt(time.Now().Unix(), 10)+",v1="+good+"XX")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(answer), "Stripe-Signature's v1= signature is not hex") {
		t.Errorf("%d %s, want 401 saying the v1= signature is not hex", resp.StatusCode, answer)
	}
	if strings.Contains(string(answer)+logs.String(), good[:16]) {
		t.Errorf("the signature sent is quoted:\n%s\n%s", answer, logs.String())
	}
}

// A skew just past the tolerance is said as past it, rounded up to the second.
func TestCheckTimestampRoundsThePastUp(t *testing.T) {
	now := time.Unix(1_800_000_000, 400_000_000)
	for ts, want := range map[string]string{
		"1799999700": "the signed timestamp is 5m1s old, beyond the tolerance of 5m",
		"1800000301": "the signed timestamp is 5m1s ahead of this clock, beyond the tolerance of 5m",
	} {
		if err := checkTimestamp(ts, now, 5*time.Minute); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", ts, err, want)
		}
	}
}

// A tolerance under a second refuses what was signed a moment ago: a load error. One
// over a day takes replays for that long: a warning.
func TestToleranceBounds(t *testing.T) {
	for _, c := range []struct{ tolerance, want string }{
		{"500ms", "error: Invalid tolerance; A signed timestamp is in whole seconds: a tolerance of 500ms refuses requests signed a moment ago"},
		{"1000d", "warning: Long tolerance; A tolerance of 1000d lets a signed request be sent again"},
		{"1s", ""},
		{"24h", ""},
	} {
		for _, preset := range []string{`stripe" {` + "\n" + `secrets = ["secret-one1"]`, `slack" {` + "\n" + `secrets = ["secret-one1"]`, `standard" {` + "\n" + `secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]`} {
			_, diags := loadHooks("t.hcl", fmt.Sprintf(`
workflow "a" {
  trigger "webhook" {
    path = "/a"
    verify "%s
      tolerance = %q
    }
  }
}`, preset, c.tolerance))
			var got string
			for _, d := range diags {
				if !strings.Contains(d.Summary, "olerance") {
					continue // the secrets written in the file
				}
				sev := "error"
				if d.Severity == hcl.DiagWarning {
					sev = "warning"
				}
				got += sev + ": " + d.Summary + "; " + d.Detail + "\n"
			}
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("%s with tolerance %s: %q, want %q", preset, c.tolerance, got, c.want)
			}
		}
	}
}
