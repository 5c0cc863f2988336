package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

func TestRecordKeepsTheLatestRequests(t *testing.T) {
	var rec Record
	for n := 1; n <= maxRequests+2; n++ {
		rec.Requests = appendRequest(rec.Requests, &workflows.Request{Attempt: n, Method: "GET", URL: "http://api.test/x"})
	}
	rec.Requests = appendRequest(rec.Requests, nil) // an attempt that sent nothing
	back, err := decodeRecord(string(encodeRecord(&rec)))
	if err != nil {
		t.Fatal(err)
	}
	got := back.requests()
	if len(got) != maxRequests || got[0].Attempt != 3 || got[len(got)-1].Attempt != maxRequests+2 {
		t.Errorf("kept %d requests, attempts %d to %d; want the latest %d", len(got), got[0].Attempt, got[len(got)-1].Attempt, maxRequests)
	}
}

// encodeRecord writes by hand what json.Marshal writes: the same fields, left out when
// empty, and the same values once decoded, whatever the strings hold.
func TestEncodeRecordIsJSON(t *testing.T) {
	for _, r := range []Record{
		{Status: StatusSucceeded},
		{Status: StatusSucceeded, Attempt: 1, Output: json.RawMessage(`{"status":200,"body":{"id":7}}`)},
		{Status: StatusRetrying, Attempt: 3, Finished: 1764650000123, DurationMS: 41, RetryAt: 1764650001123,
			Error: "POST https://x.example/a?b=1&c=<2>: status 503 \"busy\"\n\tcafé \x01 \xff", Version: "9c1d0b7e4f653f2a",
			Requests: json.RawMessage(`[{"attempt":1,"method":"POST"}]`)},
		{Status: StatusRunning, Items: 3, ForEach: true, Output: json.RawMessage(`[1,2,3]`)},
	} {
		got := encodeRecord(&r)
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("encodeRecord:\n%s\njson.Marshal:\n%s", got, want)
		}
		if !strings.HasPrefix(string(got), `{"status":`) {
			t.Errorf("%s does not start with its status: the scripts put fields after the brace", got)
		}
	}
	// Every field of Record, set: a field added to Record and not to encodeRecord
	// fails here.
	var full Record
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("s")
		case reflect.Int, reflect.Int64:
			f.SetInt(7)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice: // json.RawMessage
			f.SetBytes([]byte(`[1]`))
		default:
			t.Fatalf("Record.%s is a %s: set it here", v.Type().Field(i).Name, f.Kind())
		}
	}
	got, want := encodeRecord(&full), must(json.Marshal(&full))
	var a, b any
	json.Unmarshal(got, &a)
	json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("a record with every field set:\nencodeRecord %s\njson.Marshal %s", got, want)
	}

	// An output that cannot be encoded (a NaN from an expression) is the record's error,
	// and fails its step: encodeRecord has only JSON to write.
	bad := encodeRecord(newRecord(StatusSucceeded, 1, map[string]any{"x": math.NaN()}, nil))
	if r, err := decodeRecord(string(bad)); err != nil || r.Output != nil || r.Status != StatusFailed || !strings.Contains(r.Error, "cannot be recorded") {
		t.Errorf("an output that cannot be encoded: %s, %v", bad, err)
	}
}

// Requests that are not a list (nothing hookflow writes) start a new one: the record
// stays JSON.
func TestAppendRequestToWhatIsNotAList(t *testing.T) {
	for _, earlier := range []string{`{"attempt":1}`, `"x"`, `[1`} {
		rec := Record{Status: StatusFailed, Requests: appendRequest(json.RawMessage(earlier), &workflows.Request{Attempt: 2, Method: "GET", URL: "http://x"})}
		if data := encodeRecord(&rec); !json.Valid(data) {
			t.Errorf("after %s: %s is not JSON", earlier, data)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// The pages of a paginated step are requests of one attempt: a record keeps the latest
// maxRecordedRequests of them, and those of the attempts before.
func TestRecordKeepsTheLatestPages(t *testing.T) {
	pages := func(attempt, n int) []*workflows.Request {
		var out []*workflows.Request
		for p := 1; p <= n; p++ {
			out = append(out, &workflows.Request{Attempt: attempt, Page: p, Method: "GET", URL: "http://api.test/x"})
		}
		return out
	}
	rec := Record{Requests: appendRequests(nil, pages(1, 3))}
	rec.Requests = appendRequests(rec.Requests, pages(2, maxRecordedRequests+10))
	got := rec.requests()
	if len(got) != maxRecordedRequests || got[0].Attempt != 2 || got[0].Page != 11 || got[len(got)-1].Page != maxRecordedRequests+10 {
		t.Errorf("kept %d requests, from attempt %d page %d", len(got), got[0].Attempt, got[0].Page)
	}
	rec.Requests = appendRequests(nil, pages(1, 3))
	rec.Requests = appendRequests(rec.Requests, pages(2, 2))
	if got := rec.requests(); len(got) != 5 || got[0].Attempt != 1 || got[4].Page != 2 {
		t.Errorf("kept %+v, want the 3 pages of attempt 1 and the 2 of attempt 2", got)
	}
}

// A record's requests fit in maxRecordedBytes: the oldest go first, the latest stays
// whatever its size, so that an item of a for_each step keeps no more than that of the
// retries and pages of its calls, each up to two bodies of 64 KiB.
func TestRecordKeepsRequestsWithinBytes(t *testing.T) {
	big := func(attempt, page int) *workflows.Request {
		return &workflows.Request{Attempt: attempt, Page: page, Method: "POST", URL: "http://api.test/x",
			Body: strings.Repeat("b", workflows.MaxRecordedBody), Status: 503,
			Response: &workflows.Response{Body: strings.Repeat("r", workflows.MaxRecordedBody)}}
	}
	check := func(what string, raw json.RawMessage, attempt, page int) {
		t.Helper()
		var got []workflows.Request
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(got) == 0 {
			t.Fatalf("%s: no request kept", what)
		}
		if last := got[len(got)-1]; len(raw) > maxRecordedBytes || last.Attempt != attempt || last.Page != page {
			t.Errorf("%s: %d bytes, %d requests, the last attempt %d page %d; want at most %d bytes ending with attempt %d page %d",
				what, len(raw), len(got), last.Attempt, last.Page, maxRecordedBytes, attempt, page)
		}
	}
	var retried json.RawMessage
	for n := 1; n <= maxRequests; n++ {
		retried = appendRequest(retried, big(n, 0))
		check(fmt.Sprintf("attempt %d", n), retried, n, 0)
	}
	var pages []*workflows.Request
	for p := 1; p <= 20; p++ {
		pages = append(pages, big(maxRequests+1, p))
	}
	check("pages", appendRequests(retried, pages), maxRequests+1, 20)

	// The latest alone past the budget is kept.
	huge := big(2, 0)
	huge.Body = strings.Repeat("\x01", workflows.MaxRecordedBody) // six bytes each, escaped
	raw := appendRequest(appendRequest(nil, big(1, 0)), huge)
	var got []workflows.Request
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != 1 || got[0].Attempt != 2 {
		t.Errorf("a request past the budget: %d kept (%v), want it alone", len(got), err)
	}
	// Small ones are all kept, to the counts.
	var small json.RawMessage
	for n := 1; n <= maxRequests; n++ {
		small = appendRequest(small, &workflows.Request{Attempt: n, Method: "GET", URL: "http://api.test/x"})
	}
	if err := json.Unmarshal(small, &got); err != nil || len(got) != maxRequests {
		t.Errorf("small requests: %d kept (%v), want %d", len(got), err, maxRequests)
	}
}
