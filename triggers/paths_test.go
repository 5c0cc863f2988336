package triggers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/testutil"
)

// A path that is not in its clean form, or that holds a control character or bytes
// that are not UTF-8, or a slash written as an escape (%2F) or a backslash (\ or %5C),
// is answered 400 with the reason, and starts nothing; a clean one,
// with or without a trailing slash, is taken. The request lines are written as they
// are, as Go's client would not send some of them.
func TestMalformedPathsAreRefused(t *testing.T) {
	srv, starter := serveHooks(t, "p.hcl", `
workflow "open" {
  trigger "webhook" {
    path = "/open/{id}"
  }
}

workflow "bearer" {
  trigger "webhook" {
    path = "/bearer"
  }
}`)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		path   string
		status int
		reason string // in the answer's error
	}{
		{"/hooks/open/1", http.StatusAccepted, ""},
		{"/hooks/open/1/", http.StatusAccepted, ""},
		{"/hooks/bearer", http.StatusAccepted, ""},
		{"/hooks//open/1", http.StatusBadRequest, `send it in its clean form, "/hooks/open/1"`},
		{"/hooks/open/1//", http.StatusBadRequest, "empty, . or .. segment"},
		{"//hooks/open/1", http.StatusBadRequest, "empty, . or .. segment"},
		{"/hooks/open/..", http.StatusBadRequest, `send it in its clean form, "/hooks"`},
		{"/hooks/open/%2e%2e", http.StatusBadRequest, "empty, . or .. segment"},
		{"/hooks/./bearer", http.StatusBadRequest, `"/hooks/bearer"`},
		{"/hooks/bearer/.", http.StatusBadRequest, "empty, . or .. segment"},
		{"/elsewhere/../hooks/bearer", http.StatusBadRequest, "empty, . or .. segment"},
		{"/hooks/open/%00", http.StatusBadRequest, "holds a control character"},
		{"/hooks/open/a%0Ab", http.StatusBadRequest, "holds a control character"},
		{"/hooks/open/a%7Fb", http.StatusBadRequest, "holds a control character"},
		{"/hooks/open/%C2%85", http.StatusBadRequest, "holds a control character"},
		{"/hooks/open/%FF", http.StatusBadRequest, "is not valid UTF-8"},
		{"/hooks/open/a%252Fb", http.StatusAccepted, ""}, // a %, then 2F
		{"/hooks/open/caf%C3%A9", http.StatusAccepted, ""},
		// A slash or backslash written as an escape is no separator to hookflow, but
		// may be to a proxy in front: refused, whole or in a parameter.
		{"/hooks/open%2Fabc", http.StatusBadRequest, `encoded slash (%2F)`},
		// A byte Go would escape makes it encode the path anew, from the decoded one.
		{"/hooks/open%2Fabc|", http.StatusBadRequest, `encoded slash (%2F)`},
		{"/hooks/open%2Fab^", http.StatusBadRequest, `encoded slash (%2F)`},
		{"/hooks/open%2Fa{b}", http.StatusBadRequest, `encoded slash (%2F)`},
		{"/hooks/open%2Fcaf\xc3\xa9", http.StatusBadRequest, `encoded slash (%2F)`},
		{"/hooks/open%2fabc", http.StatusBadRequest, `encoded slash (%2f)`},
		{"/hooks/open/a%2Fb", http.StatusBadRequest, `"/hooks/open/a%2Fb" holds an encoded slash`},
		{"/hooks/open/%2F", http.StatusBadRequest, "encoded slash"},
		{"/hooks%2Fbearer", http.StatusBadRequest, "encoded slash"},
		{"/hooks/open/a%5Cb", http.StatusBadRequest, `"/hooks/open/a%5Cb" holds a backslash`},
		{"/hooks/open/a%5cb", http.StatusBadRequest, "holds a backslash"},
		{`/hooks/open/a\b`, http.StatusBadRequest, "holds a backslash"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, raw := testutil.RawRequest(t, addr, http.MethodPost, tc.path)
			var answer struct{ Error string }
			json.Unmarshal([]byte(raw), &answer)
			msg := answer.Error
			if status != tc.status || !strings.Contains(msg, tc.reason) {
				t.Errorf("%d %q, want %d with %q", status, msg, tc.status, tc.reason)
			}
		})
	}
	if n := len(starter.events["open"]) + len(starter.events["bearer"]); n != 5 {
		t.Errorf("%d runs started, want 5", n)
	}
	if got := starter.events["open"][len(starter.events["open"])-1].Params["id"]; got != "café" {
		t.Errorf("the last parameter is %q, want café", got)
	}
}

// A value of a {name} segment that SegmentProblem refuses (hookflow test's and hookflow
// run's params) is one serve refuses in a request's path, and one it takes is taken.
// (An empty one is a path that ends in a slash, which routes to no {name} segment.)
func TestSegmentProblemIsServes(t *testing.T) {
	for _, v := range []string{"42", "a b", "café", "a%2Fb", "...", ".x", ".", "..", `a\b`, "a\x01b", "a\u0085b", "a\xffb"} {
		p := "/hooks/open/" + v
		served := pathProblem(p, (&url.URL{Path: p}).EscapedPath()) == ""
		if taken := SegmentProblem(v) == ""; taken != served {
			t.Errorf("%q: SegmentProblem takes it: %v, serve does: %v", v, taken, served)
		}
	}
	for _, v := range []string{"", "a/b"} {
		if SegmentProblem(v) == "" {
			t.Errorf("%q is taken", v)
		}
	}
}
