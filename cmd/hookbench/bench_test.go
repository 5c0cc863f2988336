package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// fakeEngine stands in for hookflow: it answers each bench webhook with the status
// its status function gives and, for a 202, delivers the webhook's seq and sent_ns to
// each of paths on the sink, in a goroutine as hookflow's workers would, with
// Idempotency-Key <seq>:<path>. deliveries says how many times to deliver a seq:
// 0 loses it, 2 repeats it.
type fakeEngine struct {
	url        string
	sink       string
	paths      []string
	status     func(seq int64) int
	deliveries func(seq int64) int

	mu        sync.Mutex
	received  int
	answered  map[int]int
	bodySizes []int
	bad       []string // bodies that were not bench webhooks
	wg        sync.WaitGroup
}

func newFakeEngine(t *testing.T, sink string, paths ...string) *fakeEngine {
	f := &fakeEngine{
		sink:       sink,
		paths:      paths,
		status:     func(int64) int { return http.StatusAccepted },
		deliveries: func(int64) int { return 1 },
		answered:   map[int]int{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		f.wg.Wait()
		if len(f.bad) > 0 {
			t.Errorf("the fake engine got bodies that are not bench webhooks: %q", f.bad)
		}
	})
	f.url = srv.URL
	return f
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		Seq    *int64 `json:"seq"`
		SentNS *int64 `json:"sent_ns"`
		Kind   string `json:"kind"`
		Pad    string `json:"pad"`
	}
	err := json.Unmarshal(body, &ev)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || ev.Seq == nil || ev.SentNS == nil || ev.Kind != "bench" || r.Header.Get("Content-Type") != "application/json" {
		f.bad = append(f.bad, string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.received++
	f.bodySizes = append(f.bodySizes, len(body))
	code := f.status(*ev.Seq)
	f.answered[code]++
	if code == http.StatusAccepted {
		n := f.deliveries(*ev.Seq)
		f.wg.Go(func() { f.deliver(*ev.Seq, *ev.SentNS, n) })
	}
	w.WriteHeader(code)
}

func (f *fakeEngine) deliver(seq, sentNS int64, times int) {
	body := `{"seq":` + itoa(seq) + `,"sent_ns":` + itoa(sentNS) + `}`
	for range times {
		for _, p := range f.paths {
			req, _ := http.NewRequest(http.MethodPost, f.sink+p, strings.NewReader(body))
			req.Header.Set("Idempotency-Key", itoa(seq)+":"+p)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
}

func (f *fakeEngine) counts() (received int, answered map[int]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	answered = map[int]int{}
	for k, v := range f.answered {
		answered[k] = v
	}
	return f.received, answered
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runJSON runs hookbench with args and --json, and returns its report.
func runJSON(t *testing.T, args ...string) report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(args, "--json"), &stdout, &stderr); err != nil {
		t.Fatalf("hookbench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if r.Generator == nil || (r.Sink != nil && r.Sink.Drain == nil) {
		t.Fatalf("report without generator, or a sink without drain:\n%s", stdout.String())
	}
	return r
}

// TestOpenLoop: at a fixed rate the requests are scheduled, so how many fall in the
// warmup and in the window is known exactly, whatever the machine's speed. Every
// tenth is answered 503, one is delivered twice. A request due in the window that the
// generator could not send before the window's end (the process was not scheduled
// for most of its 100 ms, on a busy machine) is missed, by design: then the run is
// tried again, up to five times, and a run that still missed some is checked for what
// holds whatever was missed.
func TestOpenLoop(t *testing.T) {
	var f *fakeEngine
	var r report
	for try := 1; ; try++ {
		sinkAddr := freeAddr(t)
		f = newFakeEngine(t, "http://"+sinkAddr, "/relay")
		f.status = func(seq int64) int {
			if seq%10 == 9 {
				return http.StatusServiceUnavailable
			}
			return http.StatusAccepted
		}
		f.deliveries = func(seq int64) int {
			if seq == 60 {
				return 2
			}
			return 1
		}
		r = runJSON(t, "--target", f.url, "--sink", sinkAddr, "--rate", "1000", "--conns", "16",
			"--warmup", "50ms", "--duration", "100ms", "--drain", "30s", "--body-bytes", "300")
		if r.Generator.Missed == 0 {
			break
		}
		t.Logf("try %d: %d of 100 requests missed (the machine is busy)", try, r.Generator.Missed)
		if try == 5 {
			g := r.Generator
			received, _ := f.counts()
			if g.WarmupSent != 50 || g.Sent+g.Missed != 100 || received != int(g.WarmupSent+g.Sent) || g.Errors != 0 {
				t.Errorf("warmup %d, sent %d + missed %d, received %d, errors %d; want 50, 100 in all, received all sent, 0",
					g.WarmupSent, g.Sent, g.Missed, received, g.Errors)
			}
			return
		}
	}

	g, s := r.Generator, r.Sink
	// seq 0-49 in the warmup, 50-149 in the window; 59, 69, …, 149 answered 503.
	if g.WarmupSent != 50 || g.Sent != 100 || g.Accepted != 90 || g.Errors != 0 {
		t.Errorf("warmup %d, sent %d, accepted %d, errors %d; want 50, 100, 90, 0", g.WarmupSent, g.Sent, g.Accepted, g.Errors)
	}
	if g.Statuses["202"] != 90 || g.Statuses["503"] != 10 || len(g.Statuses) != 2 || g.Non2xx["503"] != 10 || len(g.Non2xx) != 1 {
		t.Errorf("statuses %v, non-2xx %v; want 202: 90, 503: 10", g.Statuses, g.Non2xx)
	}
	if g.Latency.Count != 90 || g.Mode != "open" || g.Rate != 1000 {
		t.Errorf("latency of %d answers, mode %s at %g/s; want 90, open at 1000/s", g.Latency.Count, g.Mode, g.Rate)
	}
	if received, answered := f.counts(); received != 150 || answered[202] != 135 {
		t.Errorf("the engine received %d and accepted %d, want 150 and 135", received, answered[202])
	}
	if s == nil {
		t.Fatal("no sink report")
	}
	if s.Delivered != 91 || s.Repeats != 1 || s.OutsideWindow != 45 || s.Drain.ExpectedPerPath != 90 || !s.Drain.Complete {
		t.Errorf("sink: delivered %d, repeats %d, outside %d, expected %d, complete %v; want 91, 1, 45, 90, true",
			s.Delivered, s.Repeats, s.OutsideWindow, s.Drain.ExpectedPerPath, s.Drain.Complete)
	}
	if len(s.Paths) != 1 || s.Paths[0].Path != "/relay" || s.Paths[0].Unique != 90 || s.E2E.Count != 91 {
		t.Errorf("sink paths %+v, e2e %+v; want /relay with 90 unique, 91 latencies", s.Paths, s.E2E)
	}
	for _, n := range f.bodySizes {
		if n < 290 || n > 310 {
			t.Errorf("a body of %d bytes, want about 300", n)
			break
		}
	}
}

// TestClosedLoop: as fast as the connections go, so the counts are compared with what
// the engine saw rather than with fixed numbers.
func TestClosedLoop(t *testing.T) {
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	f.status = func(seq int64) int {
		if seq%3 == 1 {
			return http.StatusTooManyRequests
		}
		return http.StatusAccepted
	}
	r := runJSON(t, "--target", f.url, "--sink", sinkAddr, "--rate", "0", "--conns", "4",
		"--warmup", "0", "--duration", "100ms", "--drain", "30s")

	g, s := r.Generator, r.Sink
	received, answered := f.counts()
	if g.Sent == 0 || g.Sent != uint64(received) || g.Errors != 0 {
		t.Fatalf("sent %d with %d errors, the engine received %d", g.Sent, g.Errors, received)
	}
	if g.Accepted != uint64(answered[202]) || g.Non2xx["429"] != uint64(answered[429]) || g.Mode != "closed" {
		t.Errorf("accepted %d, non-2xx %v; the engine answered %v", g.Accepted, g.Non2xx, answered)
	}
	if s.Delivered != g.Accepted || s.Repeats != 0 || s.OutsideWindow != 0 || !s.Drain.Complete {
		t.Errorf("sink: delivered %d, repeats %d, outside %d, complete %v; want %d, 0, 0, true",
			s.Delivered, s.Repeats, s.OutsideWindow, s.Drain.Complete, g.Accepted)
	}
}

// TestSteps: a three-step workflow delivers to three paths; the drain waits for all.
func TestSteps(t *testing.T) {
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/step1", "/step2", "/step3")
	r := runJSON(t, "--target", f.url, "--sink", sinkAddr, "--rate", "500", "--warmup", "0",
		"--duration", "100ms", "--drain", "30s", "--expect-paths", "3")

	g, s := r.Generator, r.Sink
	if g.Sent != 50 || g.Accepted != 50 || !s.Drain.Complete || s.Delivered != 150 || s.Repeats != 0 {
		t.Fatalf("sent %d, accepted %d; sink delivered %d, repeats %d, complete %v; want 50, 50, 150, 0, true",
			g.Sent, g.Accepted, s.Delivered, s.Repeats, s.Drain.Complete)
	}
	for i, p := range s.Paths {
		if want := "/step" + strconv.Itoa(i+1); p.Path != want || p.Delivered != 50 || p.Unique != 50 || p.E2E.Count != 50 {
			t.Errorf("path %+v, want %s with 50 deliveries and latencies", p, want)
		}
	}
}

// TestLostDeliveries: when deliveries never come, the drain gives up and says so.
func TestLostDeliveries(t *testing.T) {
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	f.deliveries = func(seq int64) int { return int(seq % 2) }
	r := runJSON(t, "--target", f.url, "--sink", sinkAddr, "--rate", "500", "--warmup", "0",
		"--duration", "40ms", "--drain", "50ms")

	g, s := r.Generator, r.Sink
	if g.Accepted != 20 || s.Drain.ExpectedPerPath != 20 || s.Drain.Complete || s.Delivered > 10 {
		t.Errorf("accepted %d; sink expected %d, delivered %d, complete %v; want 20, 20, at most 10, false",
			g.Accepted, s.Drain.ExpectedPerPath, s.Delivered, s.Drain.Complete)
	}
}

func TestTransportErrors(t *testing.T) {
	target := "http://" + freeAddr(t) + "/hooks/bench/relay" // nothing listens there
	r := runJSON(t, "--target", target, "--rate", "1000", "--warmup", "0", "--duration", "20ms")

	g := r.Generator
	if g.Sent != 20 || g.Errors != 20 || g.Accepted != 0 || g.Latency.Count != 0 || r.Sink != nil {
		t.Errorf("sent %d, errors %d, accepted %d, latencies %d, sink %v; want 20, 20, 0, 0, none",
			g.Sent, g.Errors, g.Accepted, g.Latency.Count, r.Sink)
	}
	var samples uint64
	for msg, n := range g.ErrorSamples {
		samples += n
		if !strings.Contains(msg, "refused") {
			t.Errorf("error sample %q", msg)
		}
	}
	if samples != 20 {
		t.Errorf("error samples %v add up to %d, want 20", g.ErrorSamples, samples)
	}
}

func TestWatchPID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("--watch-pid reads /proc")
	}
	f := newFakeEngine(t, "http://"+freeAddr(t))
	r := runJSON(t, "--target", f.url, "--rate", "100", "--warmup", "0", "--duration", "30ms",
		"--drain", "10ms", "--watch-pid", strconv.Itoa(os.Getpid()))

	p := r.Process
	if p == nil || p.PID != os.Getpid() || p.PeakRSSMB <= 0 || p.Error != "" || p.Idle == nil || p.Window.WallS <= 0 {
		t.Fatalf("process report %+v", p)
	}
	if r.Hookbench == nil || r.Hookbench.WallS <= 0 {
		t.Errorf("hookbench CPU %+v", r.Hookbench)
	}
}

// TestTextReport checks that the report a person reads carries the figures.
func TestTextReport(t *testing.T) {
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--target", f.url, "--sink", sinkAddr, "--rate", "200",
		"--warmup", "0", "--duration", "50ms"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`target ` + regexp.QuoteMeta(f.url),
		`open loop at 200/s`,
		`\n  sent +10 +200\.0/s\n`,
		`\n  accepted \(2xx\) +10 +200\.0/s\n`,
		`\n  statuses +202: 10\n`,
		`\n  non-2xx +none\n`,
		`\n  transport errors +0\n`,
		`\n  accept latency +p50 [0-9.]+ms  p90 [0-9.]+ms  p99 [0-9.]+ms  max [0-9.]+ms\n`,
		`\nsink ` + regexp.QuoteMeta(sinkAddr) + `\n`,
		`\n  expected +10 per path +all arrived`,
		`\n  /relay +10 +[0-9.]+/s, 10 unique, e2e p50 `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the report does not match %q:\n%s", want, out)
		}
	}
}

// TestSinkOnly runs the sink alone until interrupted, then reads its report.
func TestSinkOnly(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := &signalWriter{seen: make(chan struct{})}
	var stdout bytes.Buffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"--sink-only", "--sink", addr, "--json"}, &stdout, started) }()
	select {
	case <-started.seen:
	case err := <-errc:
		t.Fatalf("the sink stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the sink did not start")
	}
	sent := itoa(time.Now().UnixNano())
	post(t, "http://"+addr+"/a", "k1", `{"sent_ns":`+sent+`}`)
	post(t, "http://"+addr+"/a", "k1", `{"sent_ns":`+sent+`}`)
	post(t, "http://"+addr+"/b", "k2", `{"sent_ns":`+sent+`}`)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sink did not stop")
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if r.Generator != nil || r.Sink == nil || r.Sink.Drain != nil || r.Sink.Delivered != 3 || r.Sink.Repeats != 1 || len(r.Sink.Paths) != 2 || r.Sink.E2E.Count != 3 {
		t.Errorf("report %+v, sink %+v", r, r.Sink)
	}
}

// signalWriter closes seen at its first write.
type signalWriter struct {
	once sync.Once
	seen chan struct{}
	n    atomic.Int64
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	w.once.Do(func() { close(w.seen) })
	return len(p), nil
}

// TestScheduleMisses: with no worker taking jobs, schedule waits for one until the
// window ends, then counts every job due in the window that it could not hand out.
func TestScheduleMisses(t *testing.T) {
	jobs := make(chan job, 1) // room for job 0; nobody reads
	p := newPlan(time.Now(), 10*time.Millisecond, 20*time.Millisecond)
	missed := schedule(context.Background(), p, 1000, jobs)
	// Jobs 0-9 are due in the warmup, 10-29 in the window. Job 0 is in the channel.
	if missed != 20 || len(jobs) != 1 {
		t.Errorf("missed %d with %d handed out, want 20 and 1", missed, len(jobs))
	}
	if j := <-jobs; j.seq != 0 || !j.due.Equal(p.start) {
		t.Errorf("first job %+v, want seq 0 due at the start", j)
	}
}

// --floor runs the same load against the bare relay through a Redis list first, with
// the same sink, and reports the target's deliveries per second as a ratio of its.
func TestFloor(t *testing.T) {
	b := redistest.Real(t)
	sinkAddr := freeAddr(t)
	f := newFakeEngine(t, "http://"+sinkAddr, "/relay")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--target", f.url, "--sink", sinkAddr, "--rate", "0", "--conns", "8",
		"--warmup", "0", "--duration", "300ms", "--drain", "20s", "--floor", b.URL, "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var r struct {
		Floor, Target report
		Ratio         float64 `json:"ratio_to_floor"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for name, x := range map[string]report{"floor": r.Floor, "target": r.Target} {
		if x.Generator == nil || x.Sink == nil || x.Generator.Accepted == 0 || x.Sink.Drain == nil || !x.Sink.Drain.Complete ||
			x.Sink.Delivered < x.Generator.Accepted || x.Generator.Errors != 0 {
			t.Fatalf("%s: %s", name, stdout.String())
		}
	}
	if want := r.Target.Sink.DeliveredPerSec / r.Floor.Sink.DeliveredPerSec; r.Ratio <= 0 || r.Ratio > want*1.0001 || r.Ratio < want*0.9999 {
		t.Errorf("ratio %g, want %g", r.Ratio, want)
	}
	if n := b.Client.Keys(context.Background(), "hookbench:floor:*").Val(); len(n) != 0 {
		t.Errorf("the floor's list is left in Redis: %v", n)
	}
	for _, other := range []string{"floor_apart", "floor_reliable"} { // each only when asked for
		if strings.Contains(stdout.String(), other) {
			t.Errorf("a run with --floor alone reports %s:\n%s", other, stdout.String())
		}
	}
	if err := run(context.Background(), []string{"--target", f.url, "--floor", b.URL}, io.Discard, io.Discard); err == nil {
		t.Error("--floor without --sink was taken")
	}
}
