package actions

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// An answer whose Content-Type says JSON and whose body does not parse as JSON fails
// the step, saying where the body stops being JSON, rather than give its text as the
// body (where steps.NAME.body.orders would be nil). It is retried as a network error
// is, and the output keeps the answer as it came. An empty body, a JSON string and a
// body that does not say it is JSON are answers like any other; a status the step
// does not expect fails it as such.
func TestHTTPStepBrokenJSON(t *testing.T) {
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		want                    string // "" for no error
	}{
		{"cut short", "application/json", `{"orders":[{"id":1},`, 200,
			`: the answer says it is JSON (Content-Type "application/json") but does not parse as JSON: unexpected end of JSON input, ` +
				`at line 1, column 21, after its last byte (20): the answer was cut short`},
		{"a maintenance page", "application/json; charset=utf-8", "<html>\n<h1>Down</h1>", 200,
			`but does not parse as JSON: invalid character '<' looking for beginning of value, at line 1, column 1`},
		{"broken on a later line", "application/problem+json", "{\n  \"a\": 1,,\n}", 201,
			`but does not parse as JSON: invalid character ',' looking for beginning of object key string, at line 2, column 10`},
		{"empty", "application/json", "", 200, ""},
		{"blank", "application/json", " \n", 200, ""},
		{"a JSON string", "application/json", `"all good"`, 200, ""},
		{"invalid UTF-8 in a string", "application/json", "{\"a\": \"\xff\"}", 200, ""},
		{"text that looks like JSON", "text/plain", `{"orders":[`, 200, ""},
		{"a status not expected", "application/json", `{"error":`, 503, "status 503 Service Unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			out, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" { url = "`+srv.URL+`/orders" }`), &workflows.Env{})
			if c.want == "" {
				if err != nil {
					t.Fatalf("%v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to hold %q", err, c.want)
			}
			if c.status >= 300 {
				return
			}
			if !strings.HasPrefix(err.Error(), "GET "+srv.URL+"/orders: ") {
				t.Errorf("error %q, want it to name the request", err)
			}
			var broken *BrokenJSONError
			if !errors.As(err, &broken) {
				t.Errorf("error %T, want a BrokenJSONError", err)
			}
			if retry, _ := workflows.Retryable(err); !retry {
				t.Errorf("not retryable: %v", err)
			}
			if body := out.(map[string]any)["body"]; body != c.body {
				t.Errorf("the output's body is %#v, want the answer as it came", body)
			}
		})
	}
}
