package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// GET /api/v1/runs/{id}/event/body answers the body of a run's event as the run's
// JSON shows it, in the bytes that send it again: a string as it came, anything else
// as compact JSON with its credential fields [redacted] and its numbers as written,
// digit for digit (the run's JSON holds 12345678901234567890123 as a float64). It is
// read as the run is: with either token when the API has tokens, never without.
func TestRunEventBody(t *testing.T) {
	e, set, open := serveAPI(t, `
workflow "hook" {
  trigger "webhook" {
    path = "/in"
  }
  step "log" "got" {
    message = "got"
  }
}
`)
	a := Access{OperatorToken: "operator-token-0123456789", ReadToken: "read-token-0123456789"}
	protected := httptest.NewServer(Protect(Handler(e, func() *workflows.Set { return set }, nil, "",
		func(id string) string { return "/api/v1/runs/" + id }, quiet), a))
	defer protected.Close()
	get := func(t *testing.T, u, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}

	// Whatever type the event came with, the answer is application/octet-stream: a
	// script, a style sheet or an image of the admin origin would run or apply in any
	// page that loads its URL (<script src>, <link rel=stylesheet>, new Worker()).
	const wantType = "application/octet-stream"
	for _, c := range []struct {
		name, contentType, raw string
		want                   string
	}{
		{"json", "application/json",
			`{"amount": 12345678901234567890123, "rate": 1.50, "password": "p4ss", "card": {"api_key": "k-0123", "last4": "4242"}, "note": "a<b&c \u00e9"}`,
			`{"amount":12345678901234567890123,"card":{"api_key":"[redacted]","last4":"4242"},"note":"a<b&c é","password":"[redacted]","rate":1.50}`},
		{"json string", "application/json", `"hi"`, `"hi"`},
		{"vendor json", "application/vnd.github+json", `[1e2, -0, 9007199254740993]`, `[1e2,-0,9007199254740993]`},
		{"text", "text/plain; charset=utf-8", "line one\n\tline two \"quoted\" {\"password\": \"p\"}\n",
			"line one\n\tline two \"quoted\" {\"password\": \"p\"}\n"},
		{"html", "text/html", "<script>alert(1)</script>", "<script>alert(1)</script>"},
		{"javascript", "text/javascript", "alert(document.domain)", "alert(document.domain)"},
		{"javascript with charset", "application/javascript; charset=utf-8", "alert(1)", "alert(1)"},
		{"css", "text/css", "body { background: url(https://example.com/leak) }", "body { background: url(https://example.com/leak) }"},
		{"svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
			`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{"form", "application/x-www-form-urlencoded", "token=t0k&n=1.0", `{"n":"1.0","token":"[redacted]"}`},
		{"no content type", "", "hello", "hello"},
		{"empty", "application/json", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := e.Start(context.Background(), set.Workflow("hook"), &workflows.Event{ID: "e-" + c.name, Trigger: "webhook",
				ReceivedAt: time.Now(), Method: "POST", Path: "/in", ContentType: c.contentType, Raw: c.raw,
				Headers: map[string]string{"content-type": c.contentType}})
			if err != nil {
				t.Fatal(err)
			}
			path := "/api/v1/runs/" + id + "/event/body"
			for _, r := range []struct{ base, token string }{{open.URL, ""}, {protected.URL, a.ReadToken}, {protected.URL, a.OperatorToken}} {
				resp, body := get(t, r.base+path, r.token)
				if resp.StatusCode != http.StatusOK || body != c.want {
					t.Errorf("GET %s (token %q): %d %q, want %q", path, r.token, resp.StatusCode, body, c.want)
				}
				h := resp.Header
				if h.Get("Content-Type") != wantType || h.Get("Hookflow-Admin") != "v1" || h.Get("X-Content-Type-Options") != "nosniff" ||
					h.Get("Content-Disposition") != "attachment" || h.Get("Content-Security-Policy") != "sandbox" || h.Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s (token %q): headers %v, want Content-Type %s, an attachment in a sandbox", path, r.token, h, wantType)
				}
			}
			for _, token := range []string{"", "wrong-token-0123456789"} {
				if resp, body := get(t, protected.URL+path, token); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET %s with token %q: %d %s, want 401", path, token, resp.StatusCode, body)
				}
			}
		})
	}

	path := "/api/v1/runs/01jd3wz2q7t5nosuchrun0000/event/body"
	resp, body := get(t, open.URL+path, "")
	var fail struct{ Error string }
	if json.Unmarshal([]byte(body), &fail); resp.StatusCode != http.StatusNotFound || !strings.Contains(fail.Error, "not found (it may have expired)") {
		t.Errorf("GET %s: %d %s, want 404 saying why", path, resp.StatusCode, body)
	}
}
