package actions

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// An answer whose Content-Type says JSON and whose body does not parse as JSON fails
// the step, saying where the body stops being JSON, rather than give its text as the
// body (where steps.NAME.body.orders would be nil); the output keeps the answer as it
// came. Only one cut short is retried, and only when the request may be sent again
// (GET, or an Idempotency-Key); any other fails for good, saying on_error = "continue"
// goes on with its text. So does JSON that hookflow does not read: a number no float64
// holds, or nesting deeper than workflows.MaxJSONDepth. An empty body, a JSON string, JSON after a byte order mark
// and a body that does not say it is JSON are answers like any other; a status the
// step does not expect fails it as such.
func TestHTTPStepBrokenJSON(t *testing.T) {
	const forGood = `. The body is not JSON: on_error = "continue" on the step goes on with its text in steps.list.body`
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		attrs                   string // more of the step's
		want                    string // "" for no error
		retry                   bool
	}{
		{"cut short", "application/json", `{"orders":[{"id":1},`, 200, "",
			`: the answer says it is JSON (Content-Type "application/json") but does not parse as JSON: unexpected end of JSON input, ` +
				`at line 1, column 21, after its last byte (20): the answer was cut short`, true},
		{"cut short, POST with an Idempotency-Key", "application/json", `{"id":`, 201, `method = "POST"`,
			`but does not parse as JSON: unexpected end of JSON input, at line 1, column 7, after its last byte (6): the answer was cut short`, true},
		{"cut short, POST without an Idempotency-Key", "application/json", `{"id":`, 201, "method = \"POST\"\n idempotency_key = \"\"",
			`the answer was cut short; it is not sent again, as the server took it and it carries no Idempotency-Key` + forGood, false},
		{"a maintenance page", "application/json; charset=utf-8", "<html>\n<h1>Down</h1>", 200, "",
			`but does not parse as JSON: invalid character '<' looking for beginning of value, at line 1, column 1` + forGood, false},
		{"broken on a later line", "application/problem+json", "{\n  \"a\": 1,,\n}", 201, "",
			`but does not parse as JSON: invalid character ',' looking for beginning of object key string, at line 2, column 10` + forGood, false},
		{"JSON lines", "application/json", "{\"a\":1}\n{\"b\":2}\n", 200, "",
			`but does not parse as JSON: invalid character '{' after top-level value, at line 2, column 1` + forGood, false},
		{"a number no float64 holds", "application/json", "{\"id\": 7,\n \"n\": 1e400}", 200, "",
			`but hookflow cannot read it: number 1e400 is out of range, at line 2, column 7. on_error = "continue" on the step goes on with its text in steps.list.body`, false},
		{"nested too deep", "application/json", strings.Repeat("[", workflows.MaxJSONDepth+1) + strings.Repeat("]", workflows.MaxJSONDepth+1), 200, "",
			fmt.Sprintf(`but hookflow cannot read it: JSON nests deeper than %d levels, at line 1, column %d.`, workflows.MaxJSONDepth, workflows.MaxJSONDepth+1), false},
		{"empty", "application/json", "", 200, "", "", false},
		{"blank", "application/json", " \n", 200, "", "", false},
		{"a JSON string", "application/json", `"all good"`, 200, "", "", false},
		{"invalid UTF-8 in a string", "application/json", "{\"a\": \"\xff\"}", 200, "", "", false},
		{"text that looks like JSON", "text/plain", `{"orders":[`, 200, "", "", false},
		{"a status not expected", "application/json", `{"error":`, 503, "", "status 503 Service Unavailable", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			out, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" {
  url = "`+srv.URL+`/orders"
  `+c.attrs+`
}`), &workflows.Env{})
			if c.want == "" {
				if err != nil {
					t.Fatalf("%v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to hold %q", err, c.want)
			}
			if retry, _ := workflows.Retryable(err); retry != c.retry {
				t.Errorf("retryable %v, want %v: %v", retry, c.retry, err)
			}
			if c.status >= 300 {
				return
			}
			if !strings.Contains(err.Error(), srv.URL+"/orders: ") {
				t.Errorf("error %q, want it to name the request", err)
			}
			var broken *BrokenJSONError
			if !errors.As(err, &broken) {
				t.Errorf("error %T, want a BrokenJSONError", err)
			}
			if body := out.(map[string]any)["body"]; body != c.body {
				t.Errorf("the output's body is %#v, want the answer as it came", body)
			}
		})
	}
}

// JSON after a UTF-8 byte order mark is JSON: the step reads it decoded.
func TestHTTPStepReadsJSONAfterAByteOrderMark(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, "\xef\xbb\xbf{\"orders\": [{\"id\": 1}]}")
	}))
	defer srv.Close()
	out, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "list" { url = "`+srv.URL+`/orders" }`), &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(out.(map[string]any)["body"]); got != "map[orders:[map[id:1]]]" {
		t.Errorf("body %s", got)
	}
}

// An API's answer with a key given twice is read as encoding/json reads it, the last
// value kept: only JSON sent to hookflow (a webhook's, a resume's) is refused for it.
func TestHTTPStepReadsJSONWithADuplicateKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "pending", "status": "paid", "items": [{"id": 1, "id": 2}]}`)
	}))
	defer srv.Close()
	out, err := call(loadStep(t, NewClient(NewGuard(loopback)), `step "http" "get" { url = "`+srv.URL+`/order" }`), &workflows.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(out.(map[string]any)["body"]); got != "map[items:[map[id:2]] status:paid]" {
		t.Errorf("body %s", got)
	}
}
