package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTestSink runs a sink on a free port of 127.0.0.1 for the test's duration.
func startTestSink(t *testing.T) (*sink, string) {
	t.Helper()
	sk := newSink()
	ss, err := startSink("127.0.0.1:0", sk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Stop() })
	return sk, "http://" + ss.Addr()
}

func post(t *testing.T, url, key, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(got)) != "{}" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST %s: %d %s %q", url, resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
}

func TestSinkCounts(t *testing.T) {
	sk, url := startTestSink(t)
	sent := time.Now().Add(-50 * time.Millisecond).UnixNano()
	stamp := func(seq int) string {
		return `{"seq":` + itoa(int64(seq)) + `,"sent_ns":` + itoa(sent) + `}`
	}
	post(t, url+"/step1", "r1:step1", stamp(1))
	post(t, url+"/step1", "r2:step1", stamp(2))
	post(t, url+"/step2", "r1:step2", stamp(1))
	post(t, url+"/step1", "r1:step1", stamp(1))                               // a repeat
	post(t, url+"/step2", "r2:step2", `{"seq":2,"sent_ns":"`+itoa(sent)+`"}`) // sent_ns as a string
	post(t, url+"/step3", "", `{"hello":"world"}`)                            // no key, no sent_ns
	post(t, url+"/step3", "", `not json`)

	r := sk.Report("sink")
	if r.Delivered != 7 || r.Repeats != 1 || r.WithoutSentNS != 2 || r.OutsideWindow != 0 {
		t.Errorf("delivered %d, repeats %d, without sent_ns %d, outside %d; want 7, 1, 2, 0",
			r.Delivered, r.Repeats, r.WithoutSentNS, r.OutsideWindow)
	}
	if r.E2E.Count != 5 || r.E2E.P50 < 50 {
		t.Errorf("e2e latency %+v: want 5 values, each over 50ms", r.E2E)
	}
	want := []struct {
		path              string
		delivered, unique uint64
		latencies         uint64
	}{
		{"/step1", 3, 2, 3},
		{"/step2", 2, 2, 2},
		{"/step3", 2, 2, 0},
	}
	if len(r.Paths) != len(want) {
		t.Fatalf("paths %+v", r.Paths)
	}
	for i, w := range want {
		p := r.Paths[i]
		if p.Path != w.path || p.Delivered != w.delivered || p.Unique != w.unique || p.E2E.Count != w.latencies {
			t.Errorf("path %d: %s delivered %d unique %d latencies %d; want %s %d %d %d",
				i, p.Path, p.Delivered, p.Unique, p.E2E.Count, w.path, w.delivered, w.unique, w.latencies)
		}
	}
}

func TestSinkWindow(t *testing.T) {
	sk, url := startTestSink(t)
	start := time.Unix(1000, 0)
	sk.SetWindow(start, start.Add(time.Second))
	for _, sentNS := range []int64{999_999_999_999, 1000_000_000_000, 1000_999_999_999, 1001_000_000_000} {
		post(t, url+"/relay", "", `{"sent_ns":`+itoa(sentNS)+`}`)
	}
	r := sk.Report("sink")
	if r.Delivered != 2 || r.OutsideWindow != 2 {
		t.Errorf("delivered %d, outside %d; want 2 (the window's start included, its end not) and 2", r.Delivered, r.OutsideWindow)
	}
}

func TestSinkWait(t *testing.T) {
	sk, url := startTestSink(t)
	ctx := context.Background()
	if !sk.Wait(ctx, 0, 3, time.Hour) {
		t.Error("nothing expected, yet Wait waits")
	}
	post(t, url+"/step1", "a:1", `{}`)
	post(t, url+"/step2", "a:2", `{}`)
	post(t, url+"/step2", "a:2", `{}`) // a repeat does not make up for a missing delivery
	if sk.Wait(ctx, 2, 2, 10*time.Millisecond) {
		t.Error("complete with one delivery on each path, want 2")
	}
	if sk.Wait(ctx, 1, 3, 10*time.Millisecond) {
		t.Error("complete with 2 paths, want 3")
	}
	done := make(chan bool)
	go func() { done <- sk.Wait(ctx, 2, 2, time.Minute) }()
	post(t, url+"/step1", "b:1", `{}`)
	post(t, url+"/step2", "b:2", `{}`)
	select {
	case ok := <-done:
		if !ok {
			t.Error("Wait gave up")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not see the deliveries")
	}
}

func TestSinkPathsCapped(t *testing.T) {
	sk := newSink()
	for i := range maxPaths + 10 {
		sk.record("/p"+itoa(int64(i)), "", 1, 0, false)
	}
	r := sk.Report("sink")
	if len(r.Paths) != maxPaths+1 {
		t.Fatalf("%d paths, want %d and %q", len(r.Paths), maxPaths, otherPaths)
	}
	if r.Paths[0].Path != otherPaths || r.Paths[0].Delivered != 10 {
		t.Errorf("first path %+v, want %q with 10", r.Paths[0], otherPaths)
	}
}

func TestParseSentNS(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       int64
		ok         bool
	}{
		{"number", `{"sent_ns":1763000000123456789}`, 1763000000123456789, true},
		{"string", `{"sent_ns":"1763000000123456789"}`, 1763000000123456789, true},
		{"float", `{"sent_ns":1.5e9}`, 1500000000, true},
		{"missing", `{"seq":1}`, 0, false},
		{"null", `{"sent_ns":null}`, 0, false},
		{"not a number", `{"sent_ns":"soon"}`, 0, false},
		{"not json", `sent_ns`, 0, false},
		{"empty", ``, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseSentNS([]byte(tc.body))
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseSentNS(%s) = %d, %v; want %d, %v", tc.body, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// BenchmarkSinkRecord is the sink's counting alone, from many goroutines: what each
// delivery costs beyond net/http.
func BenchmarkSinkRecord(b *testing.B) {
	sk := newSink()
	paths := []string{"/step1", "/step2", "/step3"}
	now := time.Now().UnixNano()
	b.RunParallel(func(pb *testing.PB) {
		i := int64(0)
		for pb.Next() {
			i++
			sk.record(paths[i%3], "run-"+itoa(i)+":step", now+i, now, true)
		}
	})
}

func BenchmarkSinkServeHTTP(b *testing.B) {
	sk := newSink()
	body := `{"seq":12345,"sent_ns":` + itoa(time.Now().UnixNano()) + `}`
	b.RunParallel(func(pb *testing.PB) {
		w := discardResponse{h: http.Header{}}
		for pb.Next() {
			r, _ := http.NewRequest(http.MethodPost, "/relay", strings.NewReader(body))
			sk.ServeHTTP(w, r)
		}
	})
}

type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
