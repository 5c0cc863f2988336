package actions

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Which failures of an http step are worth another attempt: network errors, 5xx, 408
// and 429 (with the wait they ask for); not other 4xx, redirects, refused addresses or
// values that do not render.
func TestHTTPRetryClassification(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if ra := r.URL.Query().Get("retry_after"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "https://elsewhere.example.com/")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	loopbackClient := NewClient(NewGuard(loopback))
	for _, tc := range []struct {
		query string
		retry bool
		after time.Duration
	}{
		{"code=500", true, 0},
		{"code=502", true, 0},
		{"code=503&retry_after=7", true, 7 * time.Second},
		{"code=408", true, 0},
		{"code=429&retry_after=120", true, 2 * time.Minute},
		{"code=429&retry_after=soon", true, 0},
		{"code=400", false, 0},
		{"code=401", false, 0},
		{"code=404", false, 0},
		{"code=422", false, 0},
		{"code=302", false, 0},
		{"code=201", false, 0}, // the step expects 200 only: not sent again
	} {
		step := "step \"http\" \"a\" {\n  url    = \"" + srv.URL + "/?" + tc.query + "\"\n  expect = 200\n}"
		_, err := call(loadStep(t, loopbackClient, step), &workflows.Env{})
		if err == nil {
			t.Errorf("%s: no error", tc.query)
			continue
		}
		retry, after := workflows.Retryable(err)
		if retry != tc.retry || after != tc.after {
			t.Errorf("%s: Retryable = %v, %s; want %v, %s", tc.query, retry, after, tc.retry, tc.after)
		}
	}

	refused, err := call(loadStep(t, NewClient(NewGuard(nil)), `step "http" "a" { url = "`+srv.URL+`" }`), &workflows.Env{})
	if retry, _ := workflows.Retryable(err); err == nil || retry {
		t.Errorf("a refused address: %v, %v; want a permanent error", refused, err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = call(loadStep(t, loopbackClient, `step "http" "a" { url = "`+closed.URL+`" }`), &workflows.Env{})
	if retry, _ := workflows.Retryable(err); err == nil || !retry {
		t.Errorf("connection refused: %v; want a retryable error", err)
	}

	env := &workflows.Env{Event: map[string]any{"body": map[string]any{}}}
	_, err = call(loadStep(t, loopbackClient, `step "http" "a" { url = "`+srv.URL+`/{{ event.body.missing.id }}" }`), env)
	if retry, _ := workflows.Retryable(err); err == nil || retry {
		t.Errorf("a url that does not render: %v; want a permanent error", err)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"0":                             0,
		"-5":                            0,
		"Sun, 22 Nov 2026 12:01:30 GMT": 90 * time.Second,
		"Sun, 22 Nov 2026 11:59:00 GMT": 0,
		"99999999":                      MaxRetryAfter,
		"later":                         0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
