package workflows

import (
	"encoding/json"
	"testing"
	"time"
)

// Encode writes what json.Marshal writes, every field set or none.
func TestEventEncode(t *testing.T) {
	at := time.Date(2026, 12, 2, 21, 37, 43, 123456789, time.FixedZone("", 3600))
	for _, ev := range []*Event{
		{},
		{ID: "01m8", Trigger: "webhook", ReceivedAt: at.UTC(), Raw: `{"kind":"bench","seq":1}`},
		{ID: "e<1>", Trigger: "webhook", ReceivedAt: at, Method: "POST", Path: "/hooks/a&b",
			Params: map[string]string{"id": "7", "b": "<x>"}, Query: map[string][]string{"q": {"1", "2"}, "e": nil, "z": {}},
			Headers: map[string]string{"content-type": "application/json", "x-sig": "t=1,v1=ab"}, ContentType: "application/json",
			Raw: "{\"a\":\"\u2028\\n\"}\n\xff", Body: map[string]any{"a": 1},
			Parent: &EventParent{RunID: "r1", Workflow: "w", Step: "s", Job: "r1:s", Depth: 2},
			Poll:   map[string]any{"time": "2026-12-02T21:00:00Z", "n": 1.5}},
		{ID: "x", Trigger: "poll", Params: map[string]string{}, Query: map[string][]string{}, Headers: map[string]string{}, Poll: map[string]any{}},
	} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ev.Encode()
		if err != nil || string(got) != string(want) {
			t.Errorf("got  %s, %v\nwant %s", got, err, want)
		}
	}
	if _, err := (&Event{ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).Encode(); err == nil {
		t.Error("a time json.Marshal refuses was encoded")
	}
}

func TestRequestEncode(t *testing.T) {
	for _, r := range []*Request{
		{},
		{Attempt: 1, Method: "POST", URL: "https://api.example.com/v1?a=1&b=<2>", DurationMS: 12},
		{Attempt: 3, Page: 2, Method: "GET", URL: "http://x", Headers: map[string]string{"Authorization": "[hidden]", "A": "b"},
			Body: "{\"x\":\"<é>\"}", Status: 502, DurationMS: 7, Response: &Response{Headers: map[string]string{"Content-Type": "text/plain"}, Body: "bad\n"},
			Error: "POST http://x: 502 Bad Gateway"},
		{Attempt: 1, Response: &Response{}},
		{Attempt: 1, Response: &Response{Body: "only a body"}},
		{Attempt: 1, Headers: map[string]string{}, Response: &Response{Headers: map[string]string{"K": "v"}}},
		{Attempt: 2, Page: 3, Error: "lost", Lost: true},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Encode(); string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// Records keep what Encode writes without checking it again (engine/record.go): for
// any text, it must be what encoding/json writes.
func FuzzRequestEncode(f *testing.F) {
	f.Add(1, 0, "POST", "https://x/<a>", "k", "v", "{\"x\":1}", 200, int64(3), "resp\xff", "err")
	f.Fuzz(func(t *testing.T, attempt, page int, method, url, key, value, body string, status int, ms int64, answer, errText string) {
		r := &Request{Attempt: attempt, Page: page, Method: method, URL: url, Headers: map[string]string{key: value, value: key},
			Body: body, Status: status, DurationMS: ms, Error: errText, Lost: attempt%2 == 0}
		if status%2 == 0 {
			r.Response = &Response{Headers: map[string]string{value: key}, Body: answer}
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Encode(); string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

func FuzzEventEncode(f *testing.F) {
	f.Add("id", "webhook", "POST", "/p", "k", "v", "application/json", `{"a":1}`, int64(0))
	f.Fuzz(func(t *testing.T, id, trigger, method, path, key, value, ctype, raw string, ns int64) {
		ev := &Event{ID: id, Trigger: trigger, ReceivedAt: time.Unix(0, ns).UTC(), Method: method, Path: path,
			Params: map[string]string{key: value}, Query: map[string][]string{key: {value, raw}},
			Headers: map[string]string{key: value, value: key}, ContentType: ctype, Raw: raw}
		want, wantErr := json.Marshal(ev)
		got, err := ev.Encode()
		if (err != nil) != (wantErr != nil) || err == nil && string(got) != string(want) {
			t.Errorf("got  %s, %v\nwant %s, %v", got, err, want, wantErr)
		}
	})
}

// A webhook's event, as the relay's start encodes it.
func BenchmarkEventEncode(b *testing.B) {
	ev := &Event{ID: "01m8wbkygn0mg0s08s0k5e6c2p", Trigger: "webhook", ReceivedAt: time.Now(), Method: "POST",
		Path: "/hooks/bench/relay", ContentType: "application/json",
		Headers: map[string]string{"content-type": "application/json", "user-agent": "Stripe/1.0", "stripe-signature": "[hidden]", "content-length": "803"},
		Raw:     `{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd","description":"<order 7>"}}}`}
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ev.Encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
