package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sink answers every request 200 {} and counts what it received: deliveries, per
// path, repeated Idempotency-Keys, and the latency from the sent_ns a delivery
// carries to its arrival. Counting is atomic adds and one sharded set insert, so the
// sink keeps up with far more than hookflow delivers.
type sink struct {
	// The window: deliveries stamped (sent_ns) outside [windowStart, windowEnd) are
	// counted apart. windowEnd 0 means every delivery is measured.
	windowStart atomic.Int64
	windowEnd   atomic.Int64

	outside   atomic.Uint64 // stamped outside the window
	unstamped atomic.Uint64 // measured, but without a sent_ns: no latency
	repeats   atomic.Uint64
	keys      *keySet
	all       pathStats // every measured delivery, whatever its path

	mu     sync.Mutex // held to add a path
	paths  sync.Map   // path -> *pathStats
	npaths int
}

const (
	// maxPaths caps how many paths are counted apart; deliveries to further paths are
	// counted under otherPaths.
	maxPaths   = 64
	otherPaths = "(other paths)"
	// maxSinkBody is how much of a delivery's body the sink reads for its sent_ns.
	maxSinkBody = 1 << 20
)

// pathStats counts the measured deliveries to one path.
type pathStats struct {
	delivered atomic.Uint64
	unique    atomic.Uint64 // first deliveries of their Idempotency-Key, or without one
	first     atomic.Int64  // unix ns of the first delivery; 0: none yet
	last      atomic.Int64
	e2e       histogram
}

func newSink() *sink {
	return &sink{keys: newKeySet()}
}

// SetWindow makes only deliveries stamped from start up to end count as measured.
func (s *sink) SetWindow(start, end time.Time) {
	s.windowStart.Store(start.UnixNano())
	s.windowEnd.Store(end.UnixNano())
}

var (
	jsonContentType = []string{"application/json"}
	emptyObject     = []byte("{}\n")
	bufPool         = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxSinkBody))
	now := time.Now().UnixNano()
	sentNS, stamped := parseSentNS(buf.Bytes())
	bufPool.Put(buf)
	if err == nil {
		s.record(r.URL.Path, r.Header.Get("Idempotency-Key"), now, sentNS, stamped)
	}
	w.Header()["Content-Type"] = jsonContentType
	w.Write(emptyObject)
}

// parseSentNS reads sent_ns from a JSON body, as a number or a string of digits.
func parseSentNS(body []byte) (int64, bool) {
	if !bytes.Contains(body, []byte(`"sent_ns"`)) {
		return 0, false
	}
	var v struct {
		SentNS json.RawMessage `json:"sent_ns"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.SentNS) == 0 {
		return 0, false
	}
	raw := string(bytes.Trim(v.SentNS, `"`))
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil { // precision lost, but close
		return int64(f), true
	}
	return 0, false
}

// record counts one delivery that arrived at now (unix ns).
func (s *sink) record(path, key string, now, sentNS int64, stamped bool) {
	if stamped {
		if end := s.windowEnd.Load(); end != 0 && (sentNS < s.windowStart.Load() || sentNS >= end) {
			s.outside.Add(1)
			return
		}
	} else {
		s.unstamped.Add(1)
	}
	first := key == "" || s.keys.Add(key)
	if !first {
		s.repeats.Add(1)
	}
	for _, p := range []*pathStats{&s.all, s.path(path)} {
		p.delivered.Add(1)
		if first {
			p.unique.Add(1)
		}
		storeMin(&p.first, now)
		storeMax(&p.last, now)
		if stamped {
			p.e2e.Record(time.Duration(now - sentNS))
		}
	}
}

// path returns the counters of a path, adding them the first time.
func (s *sink) path(name string) *pathStats {
	if p, ok := s.paths.Load(name); ok {
		return p.(*pathStats)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.npaths >= maxPaths {
		name = otherPaths
	}
	p, loaded := s.paths.LoadOrStore(name, &pathStats{})
	if !loaded && name != otherPaths {
		s.npaths++
	}
	return p.(*pathStats)
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if (old != 0 && old <= v) || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// Delivered is how many measured deliveries arrived, at any path.
func (s *sink) Delivered() uint64 { return s.all.delivered.Load() }

// SinceWindow is how long after the window's end the last measured delivery arrived.
func (s *sink) SinceWindow() time.Duration {
	last := s.all.last.Load()
	if last == 0 {
		return 0
	}
	return time.Duration(last - s.windowEnd.Load())
}

// complete tells whether each of at least npaths paths has had want distinct measured
// deliveries.
func (s *sink) complete(want uint64, npaths int) bool {
	if want == 0 {
		return true
	}
	seen, done := 0, true
	s.paths.Range(func(_, v any) bool {
		seen++
		done = v.(*pathStats).unique.Load() >= want
		return done
	})
	return done && seen >= npaths
}

// Wait waits until complete(want, npaths), ctx is done or timeout passes, checking
// every few milliseconds. It tells whether the deliveries are complete.
func (s *sink) Wait(ctx context.Context, want uint64, npaths int, timeout time.Duration) bool {
	if s.complete(want, npaths) {
		return true
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.complete(want, npaths)
		case <-deadline.C:
			return s.complete(want, npaths)
		case <-poll.C:
			if s.complete(want, npaths) {
				return true
			}
		}
	}
}

// keySet is a set of Idempotency-Keys, kept as 64-bit hashes (a collision among a
// few million keys is unlikely enough to ignore), sharded to keep locks short.
type keySet struct {
	seed   maphash.Seed
	shards [64]keyShard
}

type keyShard struct {
	mu   sync.Mutex
	seen map[uint64]struct{}
	_    [48]byte // 64 bytes a shard, so that two shards' locks rarely share a cache line
}

func newKeySet() *keySet {
	ks := &keySet{seed: maphash.MakeSeed()}
	for i := range ks.shards {
		ks.shards[i].seen = map[uint64]struct{}{}
	}
	return ks
}

// Add adds key and tells whether it was new.
func (ks *keySet) Add(key string) bool {
	h := maphash.String(ks.seed, key)
	sh := &ks.shards[h%uint64(len(ks.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.seen[h]; ok {
		return false
	}
	sh.seen[h] = struct{}{}
	return true
}

// sinkReport is the sink's part of the report.
type sinkReport struct {
	Addr            string         `json:"addr"`
	Delivered       uint64         `json:"delivered"`
	DeliveredPerSec float64        `json:"delivered_per_s"`
	SpanS           float64        `json:"span_s"` // first to last measured delivery
	Repeats         uint64         `json:"repeats"`
	WithoutSentNS   uint64         `json:"without_sent_ns"`
	OutsideWindow   uint64         `json:"outside_window"`
	Drain           *drainReport   `json:"drain,omitempty"` // nil with --sink-only
	E2E             latencySummary `json:"e2e_latency"`
	Paths           []pathReport   `json:"paths"`
}

// drainReport tells whether the deliveries of the window's requests all arrived.
type drainReport struct {
	ExpectedPerPath uint64 `json:"expected_per_path"` // requests answered 202 in the window
	Complete        bool   `json:"complete"`          // every path got them all
	// LastAfterWindowS is when the last delivery arrived, from the window's end;
	// negative when it came before.
	LastAfterWindowS float64 `json:"last_after_window_s"`
}

type pathReport struct {
	Path            string         `json:"path"`
	Delivered       uint64         `json:"delivered"`
	Unique          uint64         `json:"unique"`
	DeliveredPerSec float64        `json:"delivered_per_s"`
	E2E             latencySummary `json:"e2e_latency"`
}

func (s *sink) Report(addr string) sinkReport {
	r := sinkReport{
		Addr:          addr,
		Delivered:     s.all.delivered.Load(),
		Repeats:       s.repeats.Load(),
		WithoutSentNS: s.unstamped.Load(),
		OutsideWindow: s.outside.Load(),
		E2E:           s.all.e2e.Summary(),
	}
	span := s.all.span()
	r.SpanS = span.Seconds()
	r.DeliveredPerSec = perSecond(r.Delivered, span)
	s.paths.Range(func(k, v any) bool {
		p := v.(*pathStats)
		r.Paths = append(r.Paths, pathReport{
			Path:            k.(string),
			Delivered:       p.delivered.Load(),
			Unique:          p.unique.Load(),
			DeliveredPerSec: perSecond(p.delivered.Load(), p.span()),
			E2E:             p.e2e.Summary(),
		})
		return true
	})
	slices.SortFunc(r.Paths, func(a, b pathReport) int { return cmp.Compare(a.Path, b.Path) })
	return r
}

func (p *pathStats) span() time.Duration {
	first, last := p.first.Load(), p.last.Load()
	if first == 0 {
		return 0
	}
	return time.Duration(last - first)
}

// sinkServer is the sink listening on an address.
type sinkServer struct {
	srv  *http.Server
	ln   net.Listener
	errc chan error
	cur  atomic.Pointer[sink] // the sink counting: one per measured run
}

// use makes s the sink that counts deliveries from now on.
func (ss *sinkServer) use(s *sink) { ss.cur.Store(s) }

// startSink listens on addr and serves s until Stop.
func startSink(addr string, s *sink) (*sinkServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--sink: %w", err)
	}
	ss := &sinkServer{
		srv: &http.Server{
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		ln:   ln,
		errc: make(chan error, 1),
	}
	ss.use(s)
	ss.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ss.cur.Load().ServeHTTP(w, r) })
	go func() {
		if err := ss.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			ss.errc <- err
		}
	}()
	return ss, nil
}

// Addr is the address the sink listens on.
func (ss *sinkServer) Addr() string { return ss.ln.Addr().String() }

// Stop closes the listener and the connections, waiting up to a second for
// requests in progress.
func (ss *sinkServer) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ss.srv.Shutdown(ctx); err != nil {
		return ss.srv.Close()
	}
	return nil
}
