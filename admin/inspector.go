package admin

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/id"
)

// The run inspector: server-rendered pages over the same Runs, Workflows and Config as
// the JSON API, with a little JavaScript (inspector/static/inspector.js) that polls
// and posts replays. Everything it needs is embedded: it works offline.

//go:embed inspector
var inspectorFiles embed.FS

// PageOptions are what the inspector needs beyond the API's values.
type PageOptions struct {
	// WebhookBase is the base URL webhooks are reached at ("http://localhost:8080"),
	// for the workflows' webhook URLs and a run's curl command.
	WebhookBase string
	// AdminBase is the admin API's base URL, for a curl command that starts a run by hand.
	AdminBase string
	// SignOut shows the sign-out button: the admin API has tokens.
	SignOut bool
}

// pageCSP lets the pages load their own script and style and nothing else: no inline
// script, no other origin, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders sets the headers of every page, the sign-in form's too: pageCSP, no
// framing, no caching, and no referrer sent to another origin.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// Inspector returns the run inspector's pages: the runs at /, a run at /runs/{id},
// dead letters at /dlq and workflows at /workflows, with their assets under /assets/.
// Serve it behind Protect, beside Handler. cfg may be nil.
func Inspector(runs Runs, wfs Workflows, cfg Config, o PageOptions, log *slog.Logger) http.Handler {
	p := &pages{runs: runs, workflows: wfs, cfg: cfg, o: o, log: log, tmpl: map[string]*template.Template{}}
	for _, name := range []string{"runs", "run", "dlq", "workflows", "error"} {
		p.tmpl[name] = template.Must(template.New(name).Funcs(pageFuncs).ParseFS(inspectorFiles,
			"inspector/layout.html", "inspector/"+name+".html"))
	}
	static, _ := fs.Sub(inspectorFiles, "inspector/static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.runList)
	mux.HandleFunc("GET /runs/{id}", p.run)
	mux.HandleFunc("GET /dlq", p.deadLetters)
	mux.HandleFunc("GET /workflows", p.workflowList)
	// The assets are files, served one by one: /assets/ itself, a directory, is no
	// page (a file server would list it).
	mux.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if st, err := fs.Stat(static, name); err != nil || !st.Mode().IsRegular() {
			p.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, name)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); allow != nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			p.fail(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed at "+r.URL.Path+": use "+strings.Join(allow, " or ")+".")
			return
		}
		p.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return mux
}

type pages struct {
	runs      Runs
	workflows Workflows
	cfg       Config
	o         PageOptions
	log       *slog.Logger
	tmpl      map[string]*template.Template
}

// page is what every page's layout shows.
type page struct {
	Title   string
	Nav     string // runs, dlq or workflows
	SignOut bool
	CanAct  bool // not the read-only token: the replay and retry buttons show
}

func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	bw := newBidiWriter(w) // see inspector_bidi.go
	err := p.tmpl[name].ExecuteTemplate(bw, "layout", data)
	if cerr := bw.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
	case r.Context().Err() != nil || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET):
		// The browser went away (a tab closed mid-poll): nothing went wrong here.
		p.log.Debug("the inspector's page was not read to its end", "page", name, "err", err)
	default:
		p.log.Error("rendering the inspector", "page", name, "err", err)
	}
}

func (p *pages) base(r *http.Request, title, nav string) page {
	return page{Title: title, Nav: nav, SignOut: p.o.SignOut, CanAct: !readOnly(r)}
}

// fail renders an error page.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.render(w, r, status, "error", struct {
		page
		Status  int
		Message string
	}{p.base(r, http.StatusText(status), ""), status, msg})
}

// failErr renders what went wrong reading runs, as the API answers it: a 503 says when
// Redis is unreachable, which a live page shows as why it stopped updating.
func (p *pages) failErr(w http.ResponseWriter, r *http.Request, err error, doing string) {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		p.fail(w, r, http.StatusNotFound, "Not found; it may have expired: "+err.Error())
	case errors.Is(err, engine.ErrBadFilter):
		p.fail(w, r, http.StatusBadRequest, err.Error())
	default:
		p.log.Error(doing+" failed", "err", err)
		p.fail(w, r, http.StatusServiceUnavailable, doing+" failed"+unreachable(r.Context(), p.runs)+"; try again.")
	}
}

// pageSize is how many runs, or dead letters, a page of their list shows.
const pageSize = 50

// sinceChoices are the time windows the run list offers.
var sinceChoices = []struct{ Value, Label string }{
	{"", "any time"}, {"15m", "last 15 minutes"}, {"1h", "last hour"}, {"24h", "last 24 hours"}, {"168h", "last 7 days"},
}

// runListPage is the run list: filters, one page of runs, newest first.
type runListPage struct {
	page
	Workflow, Status, Since, Query string
	Workflows                      []string
	Statuses                       []string
	Sinces                         []struct{ Value, Label string }
	Runs                           []engine.RunSummary
	Next                           string // the URL of the next page, if any
	Live                           bool   // the first page: it polls for new runs
	Searched                       bool   // listed by event text: a bounded scan
	Older                          bool   // a page past the first
	// Read is how many runs the page read: a filtered listing reads a bounded number,
	// and a page that found none of them to match may still have a next page that does.
	Read int
	// NotLoaded says the workflow filtered by is not among those loaded now: its runs
	// are from the history.
	NotLoaded bool
}

// runList answers GET /?workflow=&status=&since=&q=&cursor=. q is a run id (it opens
// the run) or text its event has.
func (p *pages) runList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := runListPage{page: p.base(r, "Runs", "runs"), Workflow: q.Get("workflow"), Status: q.Get("status"),
		Since: q.Get("since"), Query: strings.TrimSpace(q.Get("q")), Statuses: engine.Statuses, Sinces: sinceChoices}
	for _, wf := range p.workflows().Workflows() {
		v.Workflows = append(v.Workflows, wf.Name)
	}
	v.NotLoaded = v.Workflow != "" && !slices.Contains(v.Workflows, v.Workflow)
	if v.Query != "" { // a run's id (a child run's may hold any character), or text
		if run, err := p.runs.Run(r.Context(), id.Normalize(v.Query)); err == nil {
			http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
			return
		}
	}
	var since time.Time
	if v.Since != "" {
		d, err := time.ParseDuration(v.Since)
		if err != nil || d <= 0 {
			p.fail(w, r, http.StatusBadRequest, "since "+v.Since+": use a duration such as 1h")
			return
		}
		since = time.Now().Add(-d)
	}
	cursor := q.Get("cursor")
	runPage, err := p.runs.Runs(r.Context(), engine.RunFilter{Workflow: v.Workflow, Status: v.Status,
		Text: v.Query, Cursor: cursor, Limit: pageSize})
	if err != nil {
		p.failErr(w, r, err, "listing runs")
		return
	}
	v.Runs, v.Live, v.Searched, v.Older, v.Read = runPage.Runs, cursor == "", v.Query != "", cursor != "", runPage.Read
	// Newest first: past the first run older than the window, all are.
	if i := slices.IndexFunc(v.Runs, func(s engine.RunSummary) bool { return s.CreatedAt.Before(since) }); i >= 0 {
		v.Runs, runPage.Next = v.Runs[:i], ""
	}
	if runPage.Next != "" {
		next := url.Values{"cursor": {runPage.Next}}
		for _, k := range []string{"workflow", "status", "since", "q"} {
			if val := q.Get(k); val != "" {
				next.Set(k, val)
			}
		}
		v.Next = "/?" + next.Encode()
	}
	p.render(w, r, http.StatusOK, "runs", v)
}

// deadLetterPage is a page of dead letters, newest first.
type deadLetterPage struct {
	page
	DeadLetters []engine.DeadLetter
	Next        string // the URL of the next page, if any
	Older       bool   // a page past the first
	Run         string // the run whose dead letters the page shows alone
	// Current is, by dead letter, the version in use now, that its retry on the
	// current version runs, where one is offered: where the API takes it, as the
	// engine decides it, and the version it decided on (Runs.ReplaysOnCurrent), not
	// the one of the workflows the page lists, which a reload may have changed in
	// between. The button sends it, as the run's page does, so that a retry after the
	// files changed again is refused rather than run a version the page did not show.
	Current map[string]string
}

// deadLetters answers GET /dlq?cursor=: a page of dead letters, newest first, each
// with its retry buttons, and the link to the older ones, with the API's cursor; or
// GET /dlq?run=: the dead letters of that run, read from it.
func (p *pages) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cursor, run := q.Get("cursor"), id.Normalize(q.Get("run"))
	dead, err := p.runs.DeadLetters(r.Context(), engine.DeadLetterFilter{Cursor: cursor, Limit: pageSize, Run: run})
	if err != nil {
		p.failErr(w, r, err, "listing dead letters")
		return
	}
	v := deadLetterPage{page: p.base(r, "Dead letters", "dlq"), DeadLetters: dead.DeadLetters, Older: cursor != "" && run == "",
		Run: run, Current: map[string]string{}}
	if run != "" {
		v.Title = "Dead letters of run " + run
	}
	byRun := map[string]string{} // a retry replays the dead letter's run
	for _, d := range dead.DeadLetters {
		current, seen := byRun[d.Run]
		if !seen {
			if current, err = p.runs.ReplaysOnCurrent(r.Context(), d.Run); err != nil {
				p.failErr(w, r, err, "reading which dead letters the current version takes")
				return
			}
			byRun[d.Run] = current
		}
		if current != "" {
			v.Current[d.ID] = current
		}
	}
	if dead.Next != "" {
		v.Next = "/dlq?" + url.Values{"cursor": {dead.Next}}.Encode()
	}
	p.render(w, r, http.StatusOK, "dlq", v)
}

// workflowView is a workflow as its page shows it.
type workflowView struct {
	workflowInfo
	Webhooks  []webhookView
	Schedules []map[string]any
	Polls     []pollView
}

// pollView is a poll trigger as the workflows page shows it: what it asks and when,
// as hookflow workflows prints it, and how its polls went.
type pollView struct {
	Method, URL, API string
	Schedule         map[string]any // every, or cron and timezone; next
	// State is how its polls went, by whichever process polled; nil before the first.
	State      *engine.PollStatus
	StateError string // the state could not be read
}

type webhookView struct {
	Method, URL, Response string
}

// workflowList answers GET /workflows: the workflows in use, their webhooks,
// schedules and polls (with how their polls went), and how the last reload of the
// files went.
func (p *pages) workflowList(w http.ResponseWriter, r *http.Request) {
	v := struct {
		page
		Workflows []workflowView
		Config    *ConfigStatus
	}{page: p.base(r, "Workflows", "workflows")}
	if p.cfg != nil {
		st := p.cfg.Status()
		v.Config = &st
	}
	for _, wf := range p.workflows().Workflows() {
		wv := workflowView{workflowInfo: withStates(r.Context(), p.runs, wf, describe(wf))}
		for _, t := range wv.Triggers {
			switch t["kind"] {
			case "webhook":
				wv.Webhooks = append(wv.Webhooks, webhookView{Method: str(t["method"]),
					URL: p.o.WebhookBase + str(t["url_path"]), Response: str(t["response"])})
			case "schedule":
				wv.Schedules = append(wv.Schedules, t)
			case "poll":
				st, _ := t["state"].(*engine.PollStatus)
				wv.Polls = append(wv.Polls, pollView{Method: str(t["method"]), URL: str(t["url"]), API: str(t["api"]),
					Schedule: t, State: st, StateError: str(t["state_error"])})
			}
		}
		v.Workflows = append(v.Workflows, wv)
	}
	p.render(w, r, http.StatusOK, "workflows", v)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
