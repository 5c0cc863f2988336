package triggers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// Every request for a resume URL that is refused is counted by its reason; a token
// hookflow did not sign (a guess) is logged too, once a second at most as refused
// signatures are, without the token, and answered as a wait that is over.
func TestResumesRefusedAreCounted(t *testing.T) {
	var logs testutil.LogBuffer
	reg := prometheus.NewRegistry()
	h := NewResumes(&fakeResumer{}, slog.New(slog.NewTextHandler(&logs, nil)), WithMetrics(NewMetrics(reg)))
	clock := testutil.NewClock()
	h.refusedLog.Clock = clock
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	const guesses = 50
	for i := range guesses {
		method := "POST"
		if i%2 == 1 {
			method = "GET"
		}
		code, body := do(method, "/resume/guess-"+strings.Repeat("x", i), `{}`)
		if code != http.StatusNotFound || !strings.Contains(body, ErrNoWait.Error()) {
			t.Fatalf("%s of a guess: %d %s, want 404 as for a wait that is over", method, code, body)
		}
	}
	do("GET", "/resume/a/b", "")
	do("GET", "/resume/gone", "")
	do("PUT", "/resume/good", "")
	do("POST", "/resume/good?a=%zz", `{}`)
	do("POST", "/resume/good", `{"approved": `)
	if code, _ := do("POST", "/resume/good", `{}`); code != http.StatusOK {
		t.Fatalf("resuming: %d", code)
	}
	do("POST", "/resume/good", `{}`)
	h.RefusedWhileShuttingDown()

	lines := logs.Lines("resume refused")
	if len(lines) != 1 || !strings.Contains(lines[0], `reason="not a resume token"`) || !strings.Contains(lines[0], "suppressed=0") {
		t.Errorf("%d guesses logged %q, want one line saying suppressed=0", guesses, lines)
	}
	clock.Advance(time.Second)
	lines = logs.Lines("resume refused")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "suppressed=49") {
		t.Errorf("once the second ended: %q, want a second line saying suppressed=49", lines)
	}
	if strings.Contains(logs.String(), "guess-") {
		t.Errorf("a token is logged:\n%s", logs.String())
	}
	for reason, want := range map[string]float64{"bad_token": guesses + 1, "not_found": 1, "method_not_allowed": 1,
		"bad_query": 1, "bad_body": 1, "resumed": 1, "shutting_down": 1, "too_large": 0, "unavailable": 0} {
		if n := promtest.ToFloat64(h.metrics.resumes[resumeReasonIndex(t, reason)]); n != want {
			t.Errorf("hookflow_resumes_refused_total{reason=%q} = %v, want %v", reason, n, want)
		}
	}
}

// A resume that fails while Redis is down is answered 503, and logged once a second at
// most, the first line with its error, then the last one held back with the count of
// the others.
func TestResumeFailuresLoggedOnceASecond(t *testing.T) {
	var logs testutil.LogBuffer
	h := NewResumes(downResumer{}, slog.New(slog.NewTextHandler(&logs, nil)))
	clock := testutil.NewClock()
	h.refusedLog.Clock = clock
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	const resumes = 100
	for range resumes {
		resp, err := http.Post(srv.URL+"/resume/good", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("answered %d, want 503", resp.StatusCode)
		}
	}
	lines := logs.Lines("resuming a wait failed")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "connect: connection refused") ||
		!strings.Contains(lines[0], "suppressed=0") {
		t.Errorf("%d resumes failing logged %q, want one ERROR line with the error, saying suppressed=0", resumes, lines)
	}
	clock.Advance(time.Second)
	lines = logs.Lines("resuming a wait failed")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "suppressed=98") {
		t.Errorf("once the second ended: %q, want a second line saying suppressed=98", lines)
	}
}

// downResumer is a Redis that does not answer.
type downResumer struct{}

func (downResumer) Waiting(context.Context, string) (*Wait, error) {
	return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
}

func (d downResumer) Resume(ctx context.Context, token string, _ *workflows.Resume) (*Wait, error) {
	return d.Waiting(ctx, token)
}

// resumeReasonIndex is the resume reason named name.
func resumeReasonIndex(t *testing.T, name string) resumeReason {
	t.Helper()
	for r, n := range resumeReasonNames {
		if n == name {
			return resumeReason(r)
		}
	}
	t.Fatalf("no reason %q", name)
	return 0
}
