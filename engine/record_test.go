package engine

import (
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
