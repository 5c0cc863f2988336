package workflows

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRecordBody(t *testing.T) {
	r := redactorOf([]string{"s3cret-value"})
	for _, tc := range []struct {
		name, body, want string
	}{
		{"short", "token=s3cret-value", "token=[redacted]"},
		{"empty", "", ""},
		{"cut", strings.Repeat("a", MaxRecordedBody+10), strings.Repeat("a", MaxRecordedBody) +
			"\n[cut: the body is 65546 bytes; the first 65536 are kept]"},
		// A secret across the cut is redacted first: no part of it is kept.
		{"secret across the cut", strings.Repeat("a", MaxRecordedBody-4) + "s3cret-value", strings.Repeat("a", MaxRecordedBody-4) +
			"[red\n[cut: the body is 65544 bytes; the first 65536 are kept]"},
		// A character is not cut in two.
		{"cut at a character", strings.Repeat("a", MaxRecordedBody-1) + "é", strings.Repeat("a", MaxRecordedBody-1) +
			"\n[cut: the body is 65537 bytes; the first 65535 are kept]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RecordBody([]byte(tc.body), r); got != tc.want {
				t.Errorf("got ...%q, want ...%q", got[max(0, len(got)-80):], tc.want[max(0, len(tc.want)-80):])
			}
		})
	}
}

func TestRecordHeaders(t *testing.T) {
	r := redactorOf([]string{"s3cret-value"}).Encoded()
	got := RecordHeaders(http.Header{
		"Authorization": {"Basic dXNlcjpwYXNz"},
		"X-Api-Key":     {"plain-key"},
		"Cookie":        {"a=1; b=2"},
		"X-Copy":        {"copy s3cret-value", "again"},
		"X-Trace":       {"t-1"},
		// A server's challenges are shown, secrets in them hidden.
		"Www-Authenticate":   {`Bearer error="insufficient_scope", scope="admin:write"`},
		"Proxy-Authenticate": {`Basic realm="s3cret-value"`},
	}, r)
	want := map[string]string{"Authorization": "Basic [redacted]", "X-Api-Key": "[redacted]", "Cookie": "[redacted]",
		"X-Copy": "copy [redacted], again", "X-Trace": "t-1",
		"Www-Authenticate": `Bearer error="insufficient_scope", scope="admin:write"`, "Proxy-Authenticate": `Basic realm="[redacted]"`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// A header value and a URL are cut as a body is, after secrets are redacted, and
// headers past MaxRecordedHeaders in all are left out, HeadersCut saying how many.
func TestRecordHeadersCut(t *testing.T) {
	r := redactorOf([]string{"s3cret-value"}).Encoded()
	long := strings.Repeat("a", MaxRecordedValue-4) + "s3cret-value" + strings.Repeat("b", 5000)
	h := http.Header{"X-Long": {long}, "X-Short": {"s3cret-value"}, "Authorization": {"Bearer " + long}}
	got := RecordHeaders(h, r)
	want := strings.Repeat("a", MaxRecordedValue-4) + "[red" +
		fmt.Sprintf(" [cut: the value is %d bytes; the first %d are kept]", len(long), MaxRecordedValue)
	if got["X-Long"] != want || got["X-Short"] != Redacted || got["Authorization"] != "Bearer "+Redacted || got[HeadersCut] != "" {
		t.Errorf("got %q", got)
	}
	if !IsCut(got["X-Long"]) || IsCut(got["X-Short"]) {
		t.Error("IsCut does not tell a cut value")
	}

	many := http.Header{}
	for i := range 40 {
		many.Set(fmt.Sprintf("X-H%02d", i), strings.Repeat("v", 1000))
	}
	got = RecordHeaders(many, nil)
	size := 0
	for name, v := range got {
		size += len(name) + len(v)
	}
	if size > MaxRecordedHeaders+200 || got["X-H00"] == "" || got["X-H39"] != "" ||
		!strings.HasPrefix(got[HeadersCut], fmt.Sprintf("%d of the 40 headers are not kept", 40-(len(got)-1))) {
		t.Errorf("40 headers of 1000 bytes kept as %d bytes: %d names, %q", size, len(got), got[HeadersCut])
	}

	// The answer read into an output is shown cut alike.
	answer := AnswerOf(map[string]any{"status": 200, "headers": map[string]any{"x-long": long}})
	if answer == nil || !strings.HasSuffix(answer.Headers["X-Long"], fmt.Sprintf(" [cut: the value is %d bytes; the first %d are kept]", len(long), MaxRecordedValue)) {
		t.Errorf("the answer's header: %+v", answer)
	}

	url := "https://api.test/x?q=" + strings.Repeat("é", MaxRecordedValue)
	shown := RecordURL(url, len(url))
	if !strings.HasSuffix(shown, fmt.Sprintf(" [cut: the url is %d bytes; the first %d are kept]", len(url), MaxRecordedValue-1)) ||
		!utf8.ValidString(shown) || RecordURL("https://api.test/x", 18) != "https://api.test/x" {
		t.Errorf("url shown as ...%q", shown[max(0, len(shown)-80):])
	}
}

// TestAnswerOf: an answer left to the output it was read into comes back as
// RecordHeaders and RecordJSON or RecordBody would have recorded it.
func TestAnswerOf(t *testing.T) {
	r := redactorOf([]string{"s3cret-value"}).Encoded()
	h := http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"sid=1", "b=2"},
		"Www-Authenticate": {"Bearer realm=x"}, "X-Copy": {"[redacted], again"}}
	output := map[string]any{"status": 200, "headers": map[string]any{"content-type": "application/json",
		"set-cookie": "sid=1, b=2", "www-authenticate": "Bearer realm=x", "x-copy": "[redacted], again"},
		"body": map[string]any{"a&b": "<x>", "n": int64(12), "list": []any{1.5, nil, true}}}
	got := AnswerOf(output)
	want := &Response{Headers: RecordHeaders(h, r), Body: RecordJSON(output["body"], r)}
	if got != nil && got.Headers["Www-Authenticate"] != "Bearer realm=x" {
		t.Errorf("Www-Authenticate %q, want it shown", got.Headers["Www-Authenticate"])
	}
	if got == nil || got.Body != want.Body || got.Body != `{"a&b":"<x>","list":[1.5,null,true],"n":12}` {
		t.Errorf("JSON body %+v, want %q", got, want.Body)
	}
	for k, v := range want.Headers {
		if got.Headers[k] != v {
			t.Errorf("header %s: %q, want %q", k, got.Headers[k], v)
		}
	}
	if len(got.Headers) != len(want.Headers) {
		t.Errorf("headers %v, want %v", got.Headers, want.Headers)
	}
	text := strings.Repeat("a", MaxRecordedBody+1)
	if got := AnswerOf(map[string]any{"status": 500, "body": text}); got == nil || got.Body != RecordBody([]byte(text), nil) || got.Headers != nil {
		t.Errorf("text body %+v", got)
	}
	if got := AnswerOf(map[string]any{"status": 204, "headers": map[string]any{}, "body": nil}); got == nil || got.Body != "" {
		t.Errorf("no body: %+v", got)
	}
	for _, v := range []any{nil, "text", map[string]any{"body": "no status"}} {
		if got := AnswerOf(v); got != nil {
			t.Errorf("AnswerOf(%v) = %+v, want nil: not an http step's output", v, got)
		}
	}
}

func TestEncodedRedactorFindsEveryForm(t *testing.T) {
	secret := `Cn4ry/s3cr&t"<x>+=?q`
	r := redactorOf([]string{secret})
	auth := base64.StdEncoding.EncodeToString([]byte("svc:" + secret))
	for name, text := range map[string]string{
		"as it is":          "a " + secret + " b",
		"path":              "/hooks/Cn4ry%2Fs3cr&t%22%3Cx%3E+=%3Fq/x",
		"query or form":     "key=Cn4ry%2Fs3cr%26t%22%3Cx%3E%2B%3D%3Fq&n=1",
		"json":              `{"t":"Cn4ry/s3cr\u0026t\"\u003cx\u003e+=?q"}`,
		"written in a URL":  "/hooks/Cn4ry/s3cr&t%22%3Cx%3E+=?q/x",
		"basic auth base64": "Basic " + auth,
	} {
		redactor := r.Encoded()
		if name == "basic auth base64" {
			redactor = r.WithBasicAuth("svc", secret)
		}
		if got := redactor.String(text); strings.Contains(got, "Cn4ry") || strings.Contains(got, auth) || !strings.Contains(got, Redacted) {
			t.Errorf("%s: %q", name, got)
		}
	}
	if r.WithBasicAuth("svc", "not-a-secret") != r.Encoded() {
		t.Error("basic auth without a secret needs no redactor of its own")
	}
}
