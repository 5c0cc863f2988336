package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// genConfig is what the generator sends, where, and how fast.
type genConfig struct {
	target    string
	rate      float64 // requests per second; 0: closed loop, each connection back to back
	conns     int
	warmup    time.Duration
	duration  time.Duration
	bodyBytes int
	timeout   time.Duration // limit on one request
	// githubSecret, when set, signs each request as GitHub does (X-Hub-Signature-256)
	// and gives it a delivery id of its own (X-GitHub-Delivery).
	githubSecret string
	// acceptGzip asks for compressed answers (Accept-Encoding: gzip), as most HTTP
	// clients do.
	acceptGzip bool
}

// plan is when a run's phases start and end. Requests stamped (sent_ns) from
// windowStart up to, not including, windowEnd are the measured ones, at the generator
// and at the sink alike.
type plan struct {
	start       time.Time
	windowStart time.Time
	windowEnd   time.Time
}

func newPlan(start time.Time, warmup, duration time.Duration) plan {
	return plan{start: start, windowStart: start.Add(warmup), windowEnd: start.Add(warmup + duration)}
}

func (p plan) measured(sentNS int64) bool {
	return sentNS >= p.windowStart.UnixNano() && sentNS < p.windowEnd.UnixNano()
}

// generator POSTs bench webhooks to the target and counts the answers.
type generator struct {
	cfg    genConfig
	client *http.Client
	tail   string       // the end of every body: its pad and `"}`
	seq    atomic.Int64 // closed loop: the next seq to send

	warmupSent atomic.Uint64
	sent       atomic.Uint64 // measured requests sent, answered or not
	missed     atomic.Uint64 // open loop: measured requests never sent, see schedule
	statuses   [600]atomic.Uint64
	errors     atomic.Uint64
	errMu      sync.Mutex
	errSamples map[string]uint64
	latency    histogram // scheduled send to answer, 2xx only
}

// maxErrorSamples caps how many distinct transport errors are kept verbatim.
const maxErrorSamples = 8

func newGenerator(cfg genConfig) *generator {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.conns,
		MaxIdleConnsPerHost: cfg.conns,
		MaxConnsPerHost:     cfg.conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &generator{
		cfg:        cfg,
		client:     &http.Client{Transport: transport, Timeout: cfg.timeout},
		tail:       strings.Repeat("x", max(cfg.bodyBytes-bodyOverhead, 0)) + bodyEnd,
		errSamples: map[string]uint64{},
	}
}

// A body is its head, then a pad shared by every request, then bodyEnd:
// {"seq":N,"sent_ns":T,"kind":"bench","pad":"xxx…"}
const bodyEnd = `"}`

// bodyOverhead is the size of a body without its pad, with a typical seq and sent_ns.
var bodyOverhead = len(appendBodyHead(nil, 1000000, time.Now().UnixNano())) + len(bodyEnd)

// appendBodyHead appends the start of a bench webhook body to buf, up to its pad.
func appendBodyHead(buf []byte, seq, sentNS int64) []byte {
	buf = append(buf, `{"seq":`...)
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, `,"sent_ns":`...)
	buf = strconv.AppendInt(buf, sentNS, 10)
	return append(buf, `,"kind":"bench","pad":"`...)
}

// Run sends until the plan's window ends or ctx is done, then waits for the answers
// to requests in flight. Requests get their own deadline, not ctx: an interrupt stops
// sending, and what was sent is still answered and counted.
func (g *generator) Run(ctx context.Context, p plan) {
	var wg sync.WaitGroup
	if g.cfg.rate > 0 {
		jobs := make(chan job, g.cfg.conns)
		for range g.cfg.conns {
			wg.Go(func() {
				for j := range jobs {
					g.send(p, j.seq, j.due)
				}
			})
		}
		g.missed.Store(schedule(ctx, p, g.cfg.rate, jobs))
		close(jobs)
	} else {
		for range g.cfg.conns {
			wg.Go(func() {
				for ctx.Err() == nil {
					// The window's end by the wall clock, as send and the sink tell a
					// measured request (by its sent_ns). time.Now reads the wall clock,
					// then the monotonic one: a plan made by a thread descheduled
					// between the two has its monotonic end that much later, and a
					// request sent in that gap would be inside the window by one clock
					// and after it by the other: sent, and counted by no one.
					now := time.Now()
					if now.UnixNano() >= p.windowEnd.UnixNano() {
						return
					}
					g.send(p, g.seq.Add(1)-1, now)
				}
			})
		}
	}
	wg.Wait()
}

// job is one scheduled request.
type job struct {
	seq int64
	due time.Time
}

// schedule hands out request i, due at start + i/rate, for every i due before the
// window ends, and returns how many measured ones it could not. It wakes on a ticker
// (at most every millisecond) and hands out all that are due. While every worker is
// busy it waits, and the jobs keep their due time, so latency measured from it includes
// the wait (no coordinated omission). Once the window has ended it waits no more: a
// job the workers cannot take at once is missed, so that a target slower than the rate
// shows as missed requests rather than as a run that outlasts its window.
func schedule(ctx context.Context, p plan, rate float64, jobs chan<- job) (missed uint64) {
	interval := time.Duration(float64(time.Second) / rate)
	ticker := time.NewTicker(max(interval, time.Millisecond))
	defer ticker.Stop()
	end := time.NewTimer(time.Until(p.windowEnd))
	defer end.Stop()
	ended := false
	for i := int64(0); ; i++ {
		j := job{seq: i, due: p.start.Add(time.Duration(float64(i) * float64(time.Second) / rate))}
		if !j.due.Before(p.windowEnd) {
			return missed
		}
		for !ended && time.Now().Before(j.due) {
			select {
			case <-ctx.Done():
				return missed
			case <-ticker.C:
			case <-end.C:
				ended = true
			}
		}
		if !ended {
			select {
			case <-ctx.Done():
				return missed
			case jobs <- j:
				continue
			case <-end.C:
				ended = true
			}
		}
		select {
		case jobs <- j:
		default:
			if p.measured(j.due.UnixNano()) {
				missed++
			}
		}
	}
}

// send POSTs one webhook stamped with due and counts its answer if it is measured.
// Each body is a new buffer: the transport may still be reading a body after Do
// returns (after an early answer), so none is reused. One bytes.Reader, not a
// MultiReader of head and pad, lets net/http send the request in one write: about 60%
// more requests per second on loopback.
func (g *generator) send(p plan, seq int64, due time.Time) {
	sentNS := due.UnixNano()
	body := appendBodyHead(make([]byte, 0, 64+len(g.tail)), seq, sentNS)
	body = append(body, g.tail...)
	measured := p.measured(sentNS)
	if measured {
		g.sent.Add(1)
	} else {
		g.warmupSent.Add(1)
	}
	req, err := http.NewRequest(http.MethodPost, g.cfg.target, bytes.NewReader(body))
	if err != nil {
		g.countError(measured, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if g.cfg.acceptGzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if g.cfg.githubSecret != "" {
		signGitHub(req.Header, g.cfg.githubSecret, body, seq)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.countError(measured, err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(due)
	if !measured {
		return
	}
	if err != nil {
		g.countError(measured, fmt.Errorf("reading the answer: %w", err))
		return
	}
	code := resp.StatusCode
	if code < 0 || code >= len(g.statuses) {
		code = 0
	}
	g.statuses[code].Add(1)
	if code >= 200 && code < 300 {
		g.latency.Record(elapsed)
	}
}

// signGitHub adds the headers GitHub sends with a delivery: the event name, a delivery
// id, and the HMAC-SHA256 of the body under the webhook's secret.
func signGitHub(h http.Header, secret string, body []byte, seq int64) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", fmt.Sprintf("hookbench-%d-%d", os.Getpid(), seq))
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
}

func (g *generator) countError(measured bool, err error) {
	if !measured {
		return
	}
	g.errors.Add(1)
	msg := err.Error()
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if _, ok := g.errSamples[msg]; !ok && len(g.errSamples) >= maxErrorSamples {
		msg = "(other errors)"
	}
	g.errSamples[msg]++
}

// Status returns how many measured requests were answered with code.
func (g *generator) Status(code int) uint64 { return g.statuses[code].Load() }

// genReport is the generator's part of the report.
type genReport struct {
	Target         string            `json:"target"`
	Mode           string            `json:"mode"` // "open" or "closed" loop
	Rate           float64           `json:"rate,omitempty"`
	Conns          int               `json:"conns"`
	WarmupS        float64           `json:"warmup_s"`
	WindowS        float64           `json:"window_s"`
	WarmupSent     uint64            `json:"warmup_sent"`
	Sent           uint64            `json:"sent"`
	Missed         uint64            `json:"missed"` // open loop: due in the window, never sent
	SentPerSec     float64           `json:"sent_per_s"`
	Accepted       uint64            `json:"accepted"`
	AcceptedPerSec float64           `json:"accepted_per_s"`
	Statuses       map[string]uint64 `json:"statuses"`
	Non2xx         map[string]uint64 `json:"non_2xx"`
	Errors         uint64            `json:"errors"`
	ErrorSamples   map[string]uint64 `json:"error_samples,omitempty"`
	Latency        latencySummary    `json:"accept_latency"`
}

// Report summarises the measured requests over a window that lasted window.
func (g *generator) Report(window time.Duration) genReport {
	r := genReport{
		Target:     g.cfg.target,
		Mode:       "closed",
		Rate:       g.cfg.rate,
		Conns:      g.cfg.conns,
		WarmupS:    g.cfg.warmup.Seconds(),
		WindowS:    window.Seconds(),
		WarmupSent: g.warmupSent.Load(),
		Sent:       g.sent.Load(),
		Missed:     g.missed.Load(),
		Statuses:   map[string]uint64{},
		Non2xx:     map[string]uint64{},
		Errors:     g.errors.Load(),
		Latency:    g.latency.Summary(),
	}
	if g.cfg.rate > 0 {
		r.Mode = "open"
	}
	for code := range g.statuses {
		n := g.statuses[code].Load()
		if n == 0 {
			continue
		}
		r.Statuses[strconv.Itoa(code)] = n
		if code >= 200 && code < 300 {
			r.Accepted += n
		} else {
			r.Non2xx[strconv.Itoa(code)] = n
		}
	}
	g.errMu.Lock()
	if len(g.errSamples) > 0 {
		r.ErrorSamples = make(map[string]uint64, len(g.errSamples))
		for k, v := range g.errSamples {
			r.ErrorSamples[k] = v
		}
	}
	g.errMu.Unlock()
	r.SentPerSec = perSecond(r.Sent, window)
	r.AcceptedPerSec = perSecond(r.Accepted, window)
	return r
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
