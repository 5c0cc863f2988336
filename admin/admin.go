// Package admin serves hookflow's admin API: health, run history, replays and dead
// letters, as JSON under /api/v1. It listens apart from the webhooks, on loopback by default.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/internal/testexport"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// Runs reads runs back, replays, cancels and resumes them; the engine is one.
type Runs interface {
	Start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error)
	Run(ctx context.Context, id string) (*engine.Run, error)
	RunEvent(ctx context.Context, id string) (*workflows.Event, error)
	Runs(ctx context.Context, f engine.RunFilter) (*engine.RunPage, error)
	Replay(ctx context.Context, id string, o engine.ReplayOptions) (*engine.Replayed, error)
	Cancel(ctx context.Context, id string) (*engine.Cancelled, error)
	Resume(ctx context.Context, id, step string, r *workflows.Resume) (*engine.Resumed, error)
	DeadLetters(ctx context.Context, f engine.DeadLetterFilter) (*engine.DeadLetterPage, error)
	RetryDeadLetter(ctx context.Context, id string, o engine.ReplayOptions) (*engine.Replayed, error)
	ReplaysOnCurrent(ctx context.Context, id string) (string, error)
	Ping(ctx context.Context) error
}

// RedisReporter tells how the engine reaches Redis (standalone, cluster with how many
// primaries, sentinel): GET /api/v1/status shows it when the Runs given are one.
type RedisReporter interface {
	Redis(ctx context.Context) (engine.RedisStatus, error)
}

// Config reloads the workflow files and tells how the last reload went.
type Config interface {
	Reload(why string) ConfigStatus
	Status() ConfigStatus
}

// ConfigStatus is the outcome of the last load of the workflow files.
type ConfigStatus struct {
	OK        bool   `json:"ok"`
	Dir       string `json:"dir"`       // the directory of the workflow files
	Workflows int    `json:"workflows"` // in the set in use
	// Versions are the versions of the workflows in use, by name.
	Versions map[string]string `json:"versions"`
	LoadedAt time.Time         `json:"loaded_at"` // the last load tried
	// LastSuccessAt is when the set in use was loaded.
	LastSuccessAt time.Time `json:"last_success_at"`
	// Error holds the diagnostics, with file:line:col, of a load that failed: the
	// previous set stays in use.
	Error string `json:"error,omitempty"`
	// FailingSince is, while the loads fail, when the first of them failed: the
	// first failure since the last load that succeeded. Nil while they succeed.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// Warnings counts the warnings of the files in use, and WarningsText renders them
	// as validate prints them (credentials written in the files shown [redacted]).
	Warnings     int    `json:"warnings"`
	WarningsText string `json:"warnings_text,omitempty"`
}

// Header is set on every answer of the admin API (Handler, and Protect's refusals
// under /api/), with the API's version: a client tells by it that it reached
// hookflow's admin API, and not the webhook listener, a page of the run inspector or
// another server that answers 200 with JSON of its own.
const Header = "Hookflow-Admin"

// headerValue is Header's value: the version of the API under /api/.
const headerValue = "v1"

// identify sets Header on every answer of h.
func identify(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(Header, headerValue)
		h.ServeHTTP(w, r)
	})
}

// Handler returns the admin API. statusURL gives the URL of a run's status. cfg may be
// nil: the files are not reloaded then, and there is no GET /api/v1/status, which
// shows build, the build of the process, as hookflow version prints it. /readyz asks
// runs' Ready(ctx) error when it has one (it answers ErrDraining once the process
// shuts down), else its Ping.
func Handler(runs Runs, wfs Workflows, cfg Config, build string, statusURL func(id string) string, log *slog.Logger) http.Handler {
	a := &api{runs: runs, workflows: wfs, statusURL: statusURL, log: log}
	mux := http.NewServeMux()
	ready := runs.Ping
	if r, ok := runs.(interface{ Ready(context.Context) error }); ok {
		ready = r.Ready // a process that can say it is shutting down
	}
	Health(mux, ready)
	mux.HandleFunc("GET /api/v1/runs", a.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", a.run)
	mux.HandleFunc("GET /api/v1/runs/{id}/test", a.runTest)
	mux.HandleFunc("GET /api/v1/runs/{id}/event/body", a.eventBody)
	mux.HandleFunc("POST /api/v1/runs/{id}/replay", a.replay)
	mux.HandleFunc("POST /api/v1/runs/{id}/cancel", a.cancel)
	mux.HandleFunc("POST /api/v1/runs/{id}/resume/{step}", a.resume)
	mux.HandleFunc("GET /api/v1/dlq", a.deadLetters)
	mux.HandleFunc("POST /api/v1/dlq/{id}/retry", a.retryDeadLetter)
	mux.HandleFunc("GET /api/v1/workflows", a.listWorkflows)
	mux.HandleFunc("GET /api/v1/workflows/{name}", a.workflow)
	mux.HandleFunc("POST /api/v1/workflows/{name}/runs", a.startRun)
	if cfg != nil {
		mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
			out := map[string]any{"version": build, "config": cfg.Status(), "failing_triggers": a.failingTriggers(r.Context())}
			if rs, ok := runs.(RedisReporter); ok {
				st, err := rs.Redis(r.Context())
				if err != nil {
					st.Error = err.Error()
				}
				out["redis"] = st
			}
			httpjson.Write(w, http.StatusOK, out)
		})
		mux.HandleFunc("POST /api/v1/reload", func(w http.ResponseWriter, r *http.Request) {
			st := cfg.Reload("POST /api/v1/reload")
			code := http.StatusOK
			if !st.OK {
				code = http.StatusUnprocessableEntity
			}
			httpjson.Write(w, code, map[string]any{"config": st})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); allow != nil {
			MethodNotAllowed(w, r, allow)
			return
		}
		httpjson.Error(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return identify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer is JSON or text, never a page: no browser is to sniff it for one.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// The mux would redirect a path that is not clean (//, a . or .. segment) to
		// its clean form, with an HTML body: no endpoint has such a path. It cleans
		// the path as sent, where an id's own / and .. are escaped, and so does this.
		if p := r.URL.EscapedPath(); p != cleanPath(p) {
			httpjson.Error(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (a path with //, . or .. names none)")
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// IsAPIPath reports whether a request for p, its path as sent (URL.EscapedPath), is
// the admin API's: p, or its clean form, is /api or under it. Serve it to Handler
// ahead of a mux, which would redirect /api to /api/ and a path that is not clean to
// its clean form.
func IsAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(path.Clean(p)+"/", "/api/")
}

// cleanPath is p as ServeMux cleans it: without // or . and .. segments, with its
// trailing slash.
func cleanPath(p string) string {
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}

// allowedMethods lists the methods mux has a route for at r's path, its catch-all "/"
// aside; nil when it has none. ServeMux answers 405 itself only when no route takes
// the request, and a catch-all takes every one: the catch-all asks allowedMethods to
// tell a method a route does not take from a path no route has.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context()) // a copy, with its own method
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// MethodNotAllowed answers 405 with the methods allowed, in Allow and in the JSON
// error.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow []string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	httpjson.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed at %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
}

// ErrDraining is what a ping answers once the process began to shut down: /readyz
// answers 503, so that a load balancer takes it out while it drains.
var ErrDraining = errors.New("hookflow is shutting down")

// readyWithin is how long /readyz waits for ping: a probe's own timeout is often a
// second.
const readyWithin = time.Second

// errNoAnswer is /readyz's answer when ping did not end within readyWithin.
var errNoAnswer = fmt.Errorf("Redis did not answer within %v", readyWithin)

// Health adds GET /healthz, 200 while the process runs, and GET /readyz, 200 while ping
// reaches Redis and 503 while it does not, or once the process drains, to mux. /readyz
// answers within readyWithin: a Redis that holds its connections and answers nothing
// (a stopped process, a partition) would keep ping past its context's deadline, as the
// Redis client waits out its own read timeout, seconds; ping then ends on its own.
func Health(mux *http.ServeMux, ping func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyWithin)
		defer cancel()
		pinged := make(chan error, 1)
		go func() { pinged <- ping(ctx) }()
		var err error
		select {
		case err = <-pinged:
		case <-ctx.Done():
			err = errNoAnswer
		}
		if errors.Is(err, ErrDraining) || err == errNoAnswer {
			httpjson.Error(w, http.StatusServiceUnavailable, err.Error())
			return
		} else if err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "redis: "+err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

type api struct {
	runs      Runs
	workflows Workflows
	statusURL func(id string) string
	log       *slog.Logger
}

// maxManualEvent caps the body of a manual start, as webhooks' bodies are by default.
const maxManualEvent = 1 << 20

// startRun starts a run of a workflow by hand: the request's JSON body is the event's
// body. The workflow's filter does not apply: a run started by hand is meant.
func (a *api) startRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	wf := a.workflows().Workflow(name)
	if wf == nil {
		httpjson.Error(w, http.StatusNotFound, "no workflow "+name)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManualEvent))
	if err != nil {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the event is larger than %d bytes", maxManualEvent))
		return
	}
	body, err := workflows.ParseBody("application/json", raw)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "the event must be JSON: "+err.Error())
		return
	}
	ev := &workflows.Event{ID: id.New(), Trigger: "manual", ReceivedAt: time.Now().UTC(),
		ContentType: "application/json", Raw: string(raw), Body: body}
	triggers.ManualTick(wf, ev) // a schedule's workflow started with no event: its latest tick
	runID, err := a.runs.Start(r.Context(), wf, ev)
	if maybe := errors.Is(err, engine.ErrOutcomeUnknown); runID != "" && (maybe || errors.Is(err, engine.ErrNotReplicated)) {
		// Stored, or maybe: a retry would start it twice. Say so, and which run it is.
		why := "run " + runID + " is stored on the Redis primary, but fewer replicas than --redis-wait-replicas " +
			"acknowledged it within a second: it runs unless the primary fails before they have it"
		if maybe {
			why = "Redis did not answer, so run " + runID + " may be stored, and then runs"
		}
		a.log.Error("a manual run is stored, or may be, but not for sure", "workflow", name, "run", runID, "err", err)
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"run_id": runID, "status_url": a.statusURL(runID),
			"error": why + ". Look at it (hookflow runs show " + runID + ") before starting it again"})
		return
	}
	if err != nil {
		a.log.Error("cannot queue a manual run", "workflow", name, "err", err)
		w.Header().Set("Retry-After", "5")
		why := whyFailed(r.Context(), a.runs, err)
		if errors.Is(err, engine.ErrBusy) {
			why = ": too many runs are unfinished: queued, running or waiting (at a wait step or for a child run too)"
		}
		httpjson.Error(w, http.StatusServiceUnavailable, "cannot queue the run right now"+why+"; retry later")
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]string{"run_id": runID, "status_url": a.statusURL(runID)})
}

func (a *api) run(w http.ResponseWriter, r *http.Request) {
	run, err := a.runs.Run(r.Context(), runIDOf(r))
	if err != nil {
		a.fail(w, r, err, "reading run", "run", runIDOf(r))
		return
	}
	httpjson.Write(w, http.StatusOK, run)
}

// runTest answers GET /api/v1/runs/{id}/test?name=: the run as a workflow test, a
// *.test.hcl file (text/plain); 409 for a run that has not finished or was cancelled.
func (a *api) runTest(w http.ResponseWriter, r *http.Request) {
	data, err := exportTest(r.Context(), a.runs, a.workflows(), runIDOf(r), r.URL.Query().Get("name"))
	if err != nil {
		if errors.Is(err, testexport.ErrNotExportable) {
			httpjson.Error(w, http.StatusConflict, err.Error())
			return
		}
		a.fail(w, r, err, "exporting run", "run", runIDOf(r))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

// eventBody answers GET /api/v1/runs/{id}/event/body: the body of the run's event,
// less what the run's JSON redacts (engine.EventBody), in the bytes a command sends
// again: a text body as it is, anything else as compact JSON with its numbers as they
// were written. The inspector's command for a long body reads it, and sends it with
// the event's content type of its own. The answer is always application/octet-stream,
// an attachment in a sandbox, never the type the event's sender gave it: a body
// answered as text/javascript, text/css or image/svg+xml would be a script, a style
// sheet or an image of this origin to any page that loads its URL, which script-src
// 'self' allows.
func (a *api) eventBody(w http.ResponseWriter, r *http.Request) {
	id := runIDOf(r)
	ev, err := a.runs.RunEvent(r.Context(), id)
	if err != nil {
		a.fail(w, r, err, "reading run", "run", id)
		return
	}
	body, err := engine.EventBody(ev)
	if err != nil {
		a.log.Error("a run's event body cannot be read", "run", id, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "run "+id+": "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// exportTest is run id as a workflow test named name. set is the workflows in use: what
// their env() read is written as hookflow test reads it. Its resume tokens are
// redacted whichever token asks, a test being a file made to be kept and shared: an
// API's answer that repeats a resume URL is written into a mock as it came.
func exportTest(ctx context.Context, runs Runs, set *workflows.Set, id, name string) ([]byte, error) {
	data, err := exportTestAsRecorded(ctx, runs, set, id, name)
	if err != nil {
		return nil, err
	}
	if r, ok := runs.(interface {
		RedactTokens(context.Context, []byte) []byte
	}); ok {
		return r.RedactTokens(ctx, data), nil // with the key: a signature written alone too
	}
	return engine.RedactResumeTokens(data), nil
}

// exportTestAsRecorded is exportTest's file before its resume tokens are redacted.
func exportTestAsRecorded(ctx context.Context, runs Runs, set *workflows.Set, id, name string) ([]byte, error) {
	run, err := runs.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	ev, err := runs.RunEvent(ctx, id)
	if err != nil {
		ev = nil // an event that cannot be read: the test gets the default one
	}
	var env []workflows.EnvValue
	if set != nil {
		env = set.EnvValues()
	}
	return testexport.Write(run, ev, name, env)
}

// listRuns answers GET /api/v1/runs?workflow=&status=&text=&limit=&cursor=.
func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, q.Get("limit"))
	if !ok {
		return
	}
	page, err := a.runs.Runs(r.Context(), engine.RunFilter{Workflow: q.Get("workflow"), Status: q.Get("status"),
		Limit: limit, Cursor: q.Get("cursor"), Text: q.Get("text")})
	if err != nil {
		a.fail(w, r, err, "listing runs")
		return
	}
	httpjson.Write(w, http.StatusOK, page)
}

// replay answers POST /api/v1/runs/{id}/replay?version=pinned|current.
func (a *api) replay(w http.ResponseWriter, r *http.Request) {
	o, ok := replayOptions(w, r)
	if !ok {
		return
	}
	id := runIDOf(r)
	out, err := a.runs.Replay(r.Context(), id, o)
	if err != nil {
		a.fail(w, r, err, "replaying run", "run", id)
		return
	}
	httpjson.Write(w, http.StatusAccepted, out)
}

// cancel answers POST /api/v1/runs/{id}/cancel: 200 with the run cancelled, 409 for
// a run that has finished.
func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	id := runIDOf(r)
	out, err := a.runs.Cancel(r.Context(), id)
	if err != nil {
		a.fail(w, r, err, "cancelling run", "run", id)
		return
	}
	httpjson.Write(w, http.StatusOK, out)
}

// maxResumeBody is the largest body a resume takes, as a webhook's by default.
const maxResumeBody = 1 << 20

// resume answers POST /api/v1/runs/{id}/resume/{step}: the run's wait step goes on
// with the request's JSON body (the admin API takes JSON only, as Protect enforces),
// headers and query, as a POST to its resume URL would. 200 once the resume is
// stored; 400 for a step that is not a wait step; 409 for a wait resumed already or a
// run that has finished; 404 for a wait that timed out, or a run not found.
func (a *api) resume(w http.ResponseWriter, r *http.Request) {
	id, step := runIDOf(r), r.PathValue("step")
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResumeBody))
	if err != nil {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: %v (at most %d bytes)", err, maxResumeBody))
		return
	}
	query, err := workflows.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error()) // as its resume URL answers
		return
	}
	res, err := workflows.NewResume(r.Header.Get("Content-Type"), raw, r.Header, query)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := a.runs.Resume(r.Context(), id, step, res)
	var over *engine.WaitOverError
	switch {
	case errors.As(err, &over):
		httpjson.Error(w, http.StatusNotFound, err.Error()) // as its resume URL answers, with why
	case errors.Is(err, engine.ErrResumed):
		httpjson.Error(w, http.StatusConflict, err.Error())
	case errors.Is(err, engine.ErrNotWaiting):
		httpjson.Error(w, http.StatusBadRequest, err.Error())
	case err != nil:
		a.fail(w, r, err, "resuming run", "run", id, "step", step)
	default:
		httpjson.Write(w, http.StatusOK, out)
	}
}

// replayOptions reads the version a replay goes on with: ?version=pinned (the default),
// the run's (the one it started with, unless a replay on the current version moved
// it), or ?version=current, the one in use, or ?version=ID, the one in use provided
// that is version ID: the inspector's button sends the version it shows, and a
// replay after the files changed is refused rather than run a version nobody saw.
func replayOptions(w http.ResponseWriter, r *http.Request) (engine.ReplayOptions, bool) {
	switch v := r.URL.Query().Get("version"); {
	case v == "" || v == "pinned":
		return engine.ReplayOptions{}, true
	case v == "current":
		return engine.ReplayOptions{Current: true}, true
	case versionID.MatchString(v):
		return engine.ReplayOptions{Current: true, Version: v}, true
	default:
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("version %q: use pinned (the run's version), current (the one in use), "+
			"or the id of the one in use", v))
		return engine.ReplayOptions{}, false
	}
}

// versionID is how a workflow version is written: 16 hex digits.
var versionID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// deadLetters answers GET /api/v1/dlq?limit=&cursor=, or ?run=: the dead letters of
// that run alone, read from it.
func (a *api) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, q.Get("limit"))
	if !ok {
		return
	}
	page, err := a.runs.DeadLetters(r.Context(), engine.DeadLetterFilter{Limit: limit, Cursor: q.Get("cursor"),
		Run: id.Normalize(q.Get("run"))})
	if err != nil {
		a.fail(w, r, err, "listing dead letters")
		return
	}
	httpjson.Write(w, http.StatusOK, page)
}

// retryDeadLetter answers POST /api/v1/dlq/{id}/retry?version=pinned|current|ID, id
// being a dead letter's or RUN:STEP: 404 when it is no dead letter now, its run
// retried or replayed already, or expired; or, when its run has dead letters, none of
// them of that step, and the answer names them.
func (a *api) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	o, ok := replayOptions(w, r)
	if !ok {
		return
	}
	id := runIDOf(r)
	out, err := a.runs.RetryDeadLetter(r.Context(), id, o)
	var none *engine.NoDeadLetterError
	switch {
	case errors.As(err, &none) && len(none.Run) > 0:
		httpjson.Error(w, http.StatusNotFound, none.Error())
	case errors.Is(err, engine.ErrNotFound):
		// The engine's "run not found" would say the run is gone: mostly it is there,
		// and only its dead letter is.
		httpjson.Error(w, http.StatusNotFound, "no dead letter "+id+": it was retried or its run replayed already, or it expired")
	case err != nil:
		a.fail(w, r, err, "retrying dead letter", "id", id)
	default:
		httpjson.Write(w, http.StatusAccepted, out)
	}
}

// fail answers an error: what the caller can act on as a 4xx with the reason, the rest
// (Redis unreachable, mostly) as 503, logged.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error, doing string, args ...any) {
	var changed *engine.VersionChangedError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not found (it may have expired): "+err.Error())
	case errors.As(err, &changed):
		// A replay on a version no longer in use: the answer names the one in use now,
		// which a page that showed the old one tells its reader to read again.
		httpjson.Write(w, http.StatusConflict, map[string]string{"error": err.Error(), "current_version": changed.Current})
	case errors.Is(err, engine.ErrCannotReplay), errors.Is(err, engine.ErrFinished):
		httpjson.Error(w, http.StatusConflict, err.Error())
	case errors.Is(err, engine.ErrBadFilter):
		httpjson.Error(w, http.StatusBadRequest, err.Error())
	default:
		a.log.Error(doing+" failed", append(args, "err", err)...)
		httpjson.Error(w, http.StatusServiceUnavailable, doing+" failed"+whyFailed(r.Context(), a.runs, err)+"; try again")
	}
}

// whyFailed says why a request to Redis failed with err: ": Redis refused it: …" when
// Redis refused its write (out of memory, an ACL; engine.Refusal), else why Redis is
// unreachable, as unreachable says.
func whyFailed(ctx context.Context, runs Runs, err error) string {
	if why := engine.Refusal(err); why != "" {
		return ": Redis refused it: " + why
	}
	return unreachable(ctx, runs)
}

// unreachable says, after a request to Redis failed, why Redis is unreachable (": Redis
// is unreachable: …", naming a Redis Cluster's primary that does not answer or says
// cluster_state:fail, or a shard it does not serve), as /readyz does; "" when runs'
// Ping finds it reachable.
func unreachable(ctx context.Context, runs Runs) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := runs.Ping(ctx); err != nil {
		return ": Redis is unreachable: " + err.Error()
	}
	return ""
}

// intParam reads a page's limit: none is the engine's default; one past engine.MaxLimit is
// refused, not cut, so that a caller asking for more learns it gets no more.
func intParam(w http.ResponseWriter, s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > engine.MaxLimit {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("limit %q: give a whole number from 1 to %d (none: 50)", s, engine.MaxLimit))
		return 0, false
	}
	return n, true
}

// runIDOf is the run id of a request's path, in the case hookflow writes it: an id
// copied in upper case names the same run (id.Normalize).
func runIDOf(r *http.Request) string { return id.Normalize(r.PathValue("id")) }
