package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/internal/jsonenc"
	"github.com/hookflow/hookflow/internal/logthrottle"
	"github.com/hookflow/hookflow/workflows"
)

// Starter queues runs. The engine is one. Both methods return only once the run is
// durable, because the sender is told 2xx right after.
type Starter interface {
	Start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error)
	// StartOnce starts a run unless key started one within window; then it returns
	// that run's id and first false.
	StartOnce(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, key string, window time.Duration) (id string, first bool, err error)
	// StartFailed records a run that failed before its first step, keeping its event.
	StartFailed(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, reason string) (string, error)
	// Await waits until run id of wf can answer a caller (response = "sync"), or ctx ends.
	Await(ctx context.Context, wf *workflows.Workflow, id string) (*workflows.Reply, error)
}

// DefaultMaxBody is the largest webhook body accepted.
const DefaultMaxBody = 1 << 20

// Webhooks receives webhook requests under /hooks and starts runs for them.
type Webhooks struct {
	starter   Starter
	log       *slog.Logger
	statusURL func(runID string) string
	routes    atomic.Pointer[router]
	now       func() time.Time // the clock signed timestamps are checked against
	// refusedLog throttles the lines of the requests refused, each message apart: the
	// starts Redis refused, and the requests verification refused.
	refusedLog logthrottle.Throttle
	draining   chan struct{} // closed by Drain
	drainOnce  sync.Once
	metrics    *Metrics // nil: none
	bodies     budget   // bytes of bodies held by requests in progress, by client
	uploads    uploads  // the bodies still arriving that hold some of bodies
	parsing    parseSlots
	parseWait  time.Duration // how long a large body waits for a parse slot
}

// FlushLogs writes the refusals' log lines held back (logthrottle) now: at a stop, so
// that they come before the process's last line rather than after it, or never.
func (h *Webhooks) FlushLogs() { h.refusedLog.Flush() }

// Drain makes sync webhooks waiting for their runs answer 202 at once, so that a
// shutdown does not wait for them, nor cut them off without an answer.
func (h *Webhooks) Drain() {
	h.drainOnce.Do(func() { close(h.draining) })
}

// NewWebhooks returns a receiver that starts runs with starter. statusURL, when not
// nil, gives the URL where a run's status can be read; it is part of the 202 answer.
func NewWebhooks(starter Starter, log *slog.Logger, statusURL func(string) string, opts ...Option) *Webhooks {
	o := newOptions(opts)
	h := &Webhooks{starter: starter, log: log, statusURL: statusURL, now: time.Now, draining: make(chan struct{}),
		metrics: o.metrics}
	h.bodies.max = DefaultBodyBudget
	if o.bodyBudget > 0 {
		h.bodies.max = o.bodyBudget
	}
	h.bodies.share = h.bodies.max / clientShare
	h.uploads.wait = pressedBodyWait
	h.parsing, h.parseWait = newParseSlots(), largeBodyWait
	return h
}

// Use swaps in the webhooks of set. Requests already being handled finish with the set
// they started with. Use is called by one goroutine at a time.
func (h *Webhooks) Use(set *workflows.Set) {
	h.routes.Store(newRouter(set, h.routes.Load(), h.metrics))
}

// RefusedWhileShuttingDown counts a webhook request that the server refused because the
// process is stopping: it answers those before they reach the receiver.
func (h *Webhooks) RefusedWhileShuttingDown() {
	h.metrics.reject(shuttingDown)
}

// Overloaded answers 503 with Retry-After, closing the connection, to a request that
// comes while the process holds all it takes at once (connections, bodies in memory).
func (h *Webhooks) Overloaded(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close")
	h.refuse(w, overloaded, http.StatusServiceUnavailable, msg)
}

// refuse answers a request refused without a run, and counts it.
func (h *Webhooks) refuse(w http.ResponseWriter, why reason, status int, msg string) {
	h.metrics.reject(why)
	httpjson.Error(w, status, msg)
}

// sentPath is the path of r as its sender wrote it, escapes and all: the request
// line's target up to its query. URL.EscapedPath gives that only when Go takes it for a
// valid encoding: for a path with a byte Go would escape (|, ^, a raw é), it encodes
// the decoded path again, where a %2F is a / already.
func sentPath(r *http.Request) string {
	if r.RequestURI == "" { // a request not read by a server
		return r.URL.EscapedPath()
	}
	p, _, _ := strings.Cut(r.RequestURI, "?")
	return p
}

// ServeHTTP handles one webhook request. The path must start with /hooks, and be
// sent as it came: a path that is not clean is refused, not taken for its clean form,
// and so is one with a slash written as %2F, which is not taken for a separator. Every
// answer says X-Content-Type-Options: nosniff: a sync answer holds what its run wrote,
// and an error may name the path, both of which a sender chooses.
func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	query, problem := url.Values(nil), pathProblem(r.URL.Path, sentPath(r))
	if problem == "" {
		query, problem = parseQuery(r.URL.RawQuery)
	}
	if problem != "" {
		h.refuse(w, badPath, http.StatusBadRequest, problem)
		return
	}
	rt := h.routes.Load()
	sub, ok := strings.CutPrefix(r.URL.Path, "/hooks")
	if rt == nil || !ok || (sub != "" && sub[0] != '/') {
		h.refuse(w, notFound, http.StatusNotFound, "no webhook at "+r.URL.Path)
		return
	}
	ep, params := rt.match(sub)
	if ep == nil {
		h.refuse(w, notFound, http.StatusNotFound, "no webhook at "+r.URL.Path)
		return
	}
	routes := methodRoutes(ep, r.Method)
	if len(routes) == 0 {
		w.Header().Set("Allow", strings.Join(allowed(ep), ", "))
		h.refuse(w, methodNotAllowed, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not accepted at %s", r.Method, r.URL.Path))
		return
	}
	if lengthRequired(r) {
		w.Header().Set("Connection", "close")
		h.refuse(w, readError, http.StatusLengthRequired, errLengthRequired)
		return
	}
	// Webhooks sharing a path verify alike (the loader makes sure); the body limit is
	// the largest any of them takes.
	hook := routes[0].hook
	// The rate limit counts the requests a webhook takes: a verified webhook's, only
	// those that pass verification, so that anyone's unsigned requests cannot use up
	// the limit its sender needs. An unverified webhook's is counted before its body is
	// read, as every request is its sender's.
	if hook.verify == nil && h.limited(w, routes) {
		return
	}
	// A compressed body is refused before it is read, with a reason, rather than
	// parsed as if it were plain and refused as malformed.
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		w.Header().Set("Accept-Encoding", "identity")
		h.refuse(w, unsupportedType, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Encoding %s is not accepted: send the body uncompressed", ce))
		return
	}
	limit := hook.MaxBody
	for _, rt := range routes[1:] {
		limit = max(limit, rt.hook.MaxBody)
	}
	if r.ContentLength > limit { // refused before reading any of it
		w.Header().Set("Connection", "close")
		h.refuse(w, tooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", limit))
		return
	}
	client := ClientOf(r.RemoteAddr)
	raw, taken, err := h.readBody(w, r, client, limit)
	defer h.bodies.give(client, taken)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, errOverShare):
			h.Overloaded(w, "too many webhook bodies in progress from this address; retry shortly")
		case errors.Is(err, errOverBudget):
			h.Overloaded(w, "too many webhook bodies in progress; retry shortly")
		case errors.As(err, &tooBig):
			h.refuse(w, tooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", tooBig.Limit))
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			h.refuse(w, readError, http.StatusRequestTimeout, "the body did not arrive in time; send it faster, or retry")
		default:
			h.refuse(w, readError, http.StatusBadRequest, "reading body: "+err.Error())
		}
		return
	}
	if hook.verify != nil {
		if err := hook.verify.verify(r.Header, raw, h.now()); err != nil {
			// A path may hold a secret of the workflow (path = "/in/${secret(…)}").
			h.refusedLog.Log(h.log, slog.LevelWarn, "webhook refused", "path", routes[0].wf.Secrets.String(r.URL.Path), "reason", err,
				"remote", r.RemoteAddr)
			switch hook.preset {
			case "basic": // a 401 names the scheme it asks for (RFC 9110, 11.6.1)
				w.Header().Set("WWW-Authenticate", `Basic realm="hookflow", charset="UTF-8"`)
			case "bearer":
				w.Header().Set("WWW-Authenticate", `Bearer realm="hookflow"`)
			}
			h.refuse(w, badSignature, http.StatusUnauthorized, err.Error())
			return
		}
		if h.limited(w, routes) {
			return
		}
	}
	var started func() // gives back the parse slot of a large body
	if len(raw) > largeBody {
		release, ok := h.parsing.take(r.Context(), h.parseWait)
		if !ok {
			h.Overloaded(w, "too many large webhook bodies in progress; retry shortly")
			return
		}
		started = sync.OnceFunc(release)
		defer started()
	}
	ev, err := newEvent(r, sub, params, query, raw)
	if errors.Is(err, workflows.ErrNotText) {
		h.refuse(w, unsupportedType, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	if err != nil {
		h.refuse(w, badBody, http.StatusBadRequest, err.Error())
		return
	}
	h.dispatch(w, r, routes, ev, started)
}

// firstRead is how much of a body is read before any of the body budget is taken: no
// more than the connection's own read buffer holds, so that a sender declaring bodies it
// never sends holds nothing of the budget. What arrives past it is taken from the
// budget as it arrives.
const firstRead = 4 << 10

// readBody reads a request body of at most limit bytes, taking its memory from the
// body budget for client as its bytes arrive, and returns it with the bytes taken (to
// be given back, also on an error). Its buffer starts at firstRead (or the declared
// length, when less) and doubles as it fills, up to the declared length: each growth
// is taken from the budget once the bytes filling the buffer before it have arrived,
// so that a body holds at most twice what it sent. A body that arrived whole takes its
// buffer. A body still arriving that holds some of the budget is one of h.uploads, cut
// short once the budget is past half.
func (h *Webhooks) readBody(w http.ResponseWriter, r *http.Request, client netip.Addr, limit int64) (_ []byte, taken int64, err error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	size := r.ContentLength // -1: unknown, read to its end
	first := min(size, firstRead)
	if size < 0 {
		first = min(limit+1, firstRead)
	}
	buf := make([]byte, 0, first)
	var up *upload
	defer func() {
		if up != nil {
			h.uploads.done(up, err == nil)
		}
	}()
	for size < 0 || int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			grow := 2 * int64(cap(buf))
			if size >= 0 {
				grow = min(grow, size) // the declared length at most: the server ends the body there
			} else {
				grow = max(min(grow, limit+1), int64(cap(buf))+1) // past limit by one at most
			}
			if up == nil {
				up = h.uploads.add(w, r) // before its take, which may be what squeezes it
			}
			if err := h.takeBody(client, taken, grow-taken); err != nil {
				return nil, taken, err
			}
			taken = grow
			grown := make([]byte, len(buf), grow)
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, taken, err
		}
	}
	if rest := int64(cap(buf)) - taken; rest > 0 {
		if err := h.takeBody(client, taken, rest); err != nil {
			return nil, taken, err
		}
		taken += rest
	}
	return buf, taken, nil
}

// takeBody takes n bytes of the body budget for a request of client holding held, and
// once the budget is past half, cuts short the bodies still arriving.
func (h *Webhooks) takeBody(client netip.Addr, held, n int64) error {
	err := h.bodies.take(client, held, n)
	if h.bodies.pressed() {
		h.uploads.squeeze()
	}
	return err
}

// dispatch starts a run for every workflow on the endpoint whose filter accepts ev. A
// filter that cannot be evaluated on ev (a workflow bug, such as comparing a missing
// field) records a failed run that keeps the event, rather than dropping an event the
// sender is told was accepted. started, when not nil, is called once the runs are
// started, before a sync webhook waits for its run's answer. The filter reads ev as
// the run will; dedupe reads its headers as sent.
func (h *Webhooks) dispatch(w http.ResponseWriter, r *http.Request, routes []route, ev *workflows.Event, started func()) {
	value := ev.Value()
	sent := &sentEvent{event: value, header: r.Header}
	var runs []string
	duplicates := 0
	var answering *route // the webhook that answers with its run (one per path at most)
	answeringRun := ""
	for _, rt := range routes {
		var runID string
		var err error
		rt.counts.receive()
		env := &workflows.Env{Event: value, Vars: rt.wf.Vars}
		ok, filterErr := true, error(nil)
		if rt.wf.Filter != nil {
			ok, filterErr = rt.wf.Filter.Eval(env)
		}
		switch {
		case filterErr != nil:
			runID, err = h.starter.StartFailed(r.Context(), rt.wf, ev, "filter: "+filterErr.Error())
		case !ok:
			rt.counts.filter()
			continue
		default:
			if key := h.dedupeKey(rt, ev, sent); key != "" {
				var first bool
				runID, first, err = h.starter.StartOnce(r.Context(), rt.wf, ev, key, rt.hook.DedupeWindow)
				if !first && err == nil {
					duplicates++
					rt.counts.repeat()
				}
			} else {
				runID, err = h.starter.Start(r.Context(), rt.wf, ev)
			}
		}
		if err != nil {
			h.refusedLog.Log(h.log, slog.LevelError, "cannot queue run; answering 503 (logged once a second at most)", "workflow", rt.wf.Name,
				"event", ev.ID, "err", err)
			w.Header().Set("Retry-After", "5")
			why, text := startRefusal(err)
			h.refuse(w, why, http.StatusServiceUnavailable, text)
			return
		}
		runs = append(runs, runID)
		if rt.hook.Sync {
			answering, answeringRun = &rt, runID
		}
	}
	if started != nil {
		started()
	}
	if len(runs) == 0 {
		httpjson.Write(w, http.StatusOK, map[string]any{"status": "filtered"})
		return
	}
	if answering != nil {
		if h.await(w, r, answering, answeringRun) {
			return
		}
		// The sync run is the one the caller waited for: its id comes first.
		w.Header().Set("Hookflow-Run-Id", answeringRun)
		runs = append([]string{answeringRun}, slices.DeleteFunc(runs, func(id string) bool { return id == answeringRun })...)
	}
	body := accepted{RunID: runs[0]}
	status := http.StatusAccepted
	if duplicates == len(runs) {
		// Every run this event would start, an earlier delivery started.
		status = http.StatusOK
		body.Status = "duplicate"
	}
	if h.statusURL != nil {
		body.StatusURL = h.statusURL(runs[0])
	}
	if len(runs) > 1 {
		body.RunIDs = runs
	}
	httpjson.Write(w, status, &body)
}

// accepted is the answer to a webhook that started runs. Its fields are in the order of
// their names, as an object's keys are written.
type accepted struct {
	RunID     string   `json:"run_id"`
	RunIDs    []string `json:"run_ids,omitempty"`
	Status    string   `json:"status,omitempty"`
	StatusURL string   `json:"status_url,omitempty"`
}

// AppendJSON writes the answer as encoding/json would, without reflecting on it: every
// webhook accepted is answered with one.
func (a *accepted) AppendJSON(b []byte, escapeHTML bool) []byte {
	b = jsonenc.AppendString(append(b, `{"run_id":`...), a.RunID, escapeHTML)
	if len(a.RunIDs) > 0 {
		b = append(b, `,"run_ids":[`...)
		for i, id := range a.RunIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, id, escapeHTML)
		}
		b = append(b, ']')
	}
	if a.Status != "" {
		b = jsonenc.AppendString(append(b, `,"status":`...), a.Status, escapeHTML)
	}
	if a.StatusURL != "" {
		b = jsonenc.AppendString(append(b, `,"status_url":`...), a.StatusURL, escapeHTML)
	}
	return append(b, '}')
}

// retryFindsIt is what a sender whose event may be stored is told of its retry.
const retryFindsIt = "a retry finds it when the webhook dedupes (its dedupe, or its verify preset's delivery id), else it may run twice"

// startRefusal is why a webhook's run could not be queued, for the metrics (busy or
// unavailable) and the sender: an overload (the starter's error has a Busy method
// saying so, as the engine's ErrBusy does), a run stored that too few replicas
// acknowledged (a Stored method, as the engine's ErrNotReplicated has), a start sent
// to a Redis that did not answer (a MaybeStored method, as the engine's
// ErrOutcomeUnknown has), a start Redis refused before it stored anything (a Refusal
// method saying why, as the engine's RefusedError has: out of memory, an ACL), or a
// failure to queue it, said as far as the sender can act on it.
func startRefusal(err error) (reason, string) {
	var b interface{ Busy() bool }
	var st interface{ Stored() bool }
	var maybe interface{ MaybeStored() bool }
	var refused interface{ Refusal() string }
	switch {
	case errors.As(err, &b) && b.Busy():
		return busy, "cannot queue the event right now: too many runs are unfinished: queued, running or waiting (at a wait step or for a child run too); retry later"
	case errors.As(err, &st) && st.Stored():
		return unavailable, "the event is stored, but too few Redis replicas acknowledged it in time, so it may run; " + retryFindsIt
	case errors.As(err, &refused):
		return unavailable, "Redis refused the start: " + refused.Refusal() + ", so its run is not stored; retry later"
	case errors.As(err, &maybe) && maybe.MaybeStored():
		return unavailable, "Redis did not answer, so the event may be stored and may run; " + retryFindsIt
	}
	return unavailable, "cannot queue the event right now; retry later"
}

// await waits for the run of a webhook with response = "sync" and answers with it. It
// reports false, having answered nothing, when the run did not answer within the
// webhook's response_timeout, or the server began to shut down: the caller gets the
// 202 answer then.
func (h *Webhooks) await(w http.ResponseWriter, r *http.Request, rt *route, runID string) bool {
	timeout := rt.hook.ResponseTimeout
	// The server's write deadline counts from the request's headers; the wait may start
	// late, after a slow body. Past the deadline, an answer would be dropped unsent.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	go func() {
		select {
		case <-h.draining:
			cancel()
		case <-ctx.Done():
		}
	}()
	reply, err := h.starter.Await(ctx, rt.wf, runID)
	switch {
	case r.Context().Err() != nil:
		return true // the caller left; the run goes on
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return false
	case err != nil:
		h.log.Warn("cannot read the run a sync webhook waits for; answering 202", "workflow", rt.wf.Name, "run", runID, "err", err)
		return false
	}
	if reply.Status == "failed" && reply.Step == "" {
		w.Header().Set("Hookflow-Run-Id", runID)
		body := map[string]any{"run_id": runID, "status": "failed", "error": "the run failed before it could answer"}
		if h.statusURL != nil {
			body["status_url"] = h.statusURL(runID)
		}
		httpjson.Write(w, http.StatusInternalServerError, body)
		return true
	}
	if step, _ := rt.wf.Step(reply.Step); step != nil {
		if res, ok := step.Action.(workflows.Responder); ok {
			status, header, body, err := res.Response(reply.Output)
			if err != nil {
				h.log.Error("sync webhook: cannot answer with the respond step", "workflow", rt.wf.Name, "run", runID, "step", reply.Step, "err", err)
				w.Header().Set("Hookflow-Run-Id", runID)
				httpjson.Error(w, http.StatusInternalServerError, "the run's answer cannot be sent")
				return true
			}
			for k, vs := range header {
				w.Header()[k] = vs
			}
			// After the step's own: the one names the run, the other keeps a browser from
			// taking the answer for another type than it says.
			w.Header().Set("Hookflow-Run-Id", runID)
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			w.Write(body)
			return true
		}
	}
	w.Header().Set("Hookflow-Run-Id", runID)
	if reply.Step == "" {
		httpjson.Write(w, http.StatusOK, map[string]any{"run_id": runID, "status": reply.Status})
		return true
	}
	httpjson.Write(w, http.StatusOK, reply.Output)
	return true
}

// limited takes one request from the rate limit of every webhook of routes, or, when
// one of them is over its limit, answers 429 with Retry-After and reports true.
func (h *Webhooks) limited(w http.ResponseWriter, routes []route) bool {
	wait, over := overLimit(routes)
	if !over {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	h.refuse(w, rateLimited, http.StatusTooManyRequests, "rate limit reached; retry after the time in Retry-After")
	return true
}

// overLimit takes one request from the rate limit of every webhook of the request. When
// one of them is over its limit, the request is refused as a whole (the sender retries
// it, for every workflow on the path), nothing is taken, and wait says when to retry.
func overLimit(routes []route) (wait time.Duration, limited bool) {
	now := time.Now()
	var taken []*rate.Reservation
	for _, rt := range routes {
		if rt.limiter == nil {
			continue
		}
		r := rt.limiter.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			for _, t := range taken {
				t.CancelAt(now)
			}
			return d, true
		}
		taken = append(taken, r)
	}
	return 0, false
}

func methodRoutes(ep *endpoint, method string) []route {
	var out []route
	for _, rt := range ep.routes {
		if rt.hook.Method == method {
			out = append(out, rt)
		}
	}
	return out
}

func allowed(ep *endpoint) []string {
	seen := map[string]bool{}
	var out []string
	for _, rt := range ep.routes {
		if !seen[rt.hook.Method] {
			seen[rt.hook.Method] = true
			out = append(out, rt.hook.Method)
		}
	}
	sort.Strings(out)
	return out
}

// newEvent builds the event of a webhook request. A body that does not parse as its
// content type says is an error.
func newEvent(r *http.Request, path string, params map[string]string, query url.Values, raw []byte) (*workflows.Event, error) {
	// Credentials the sender put in headers (the signature, an API key) were checked
	// above if the webhook verifies them; the event keeps none of them.
	ev := &workflows.Event{
		ID:          id.New(),
		Trigger:     "webhook",
		ReceivedAt:  time.Now().UTC(),
		Method:      r.Method,
		Path:        path,
		Params:      params,
		Query:       query,
		Headers:     workflows.KeptHeaders(r.Header),
		ContentType: r.Header.Get("Content-Type"),
		Raw:         string(raw),
	}
	if err := ev.Seal(); err != nil {
		return nil, err
	}
	return ev, nil
}
