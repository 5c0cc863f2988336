package triggers

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/logthrottle"
	"github.com/hookflow/hookflow/workflows"
)

// Resumer resumes wait steps by the tokens of their resume URLs. The engine is one,
// through an adapter that turns its errors into ErrNoWait and ErrWaitResumed.
type Resumer interface {
	// Waiting tells the wait a token names, changing nothing.
	Waiting(ctx context.Context, token string) (*Wait, error)
	// Resume resumes it; it returns once the resume is durable, as the sender is told
	// 2xx right after.
	Resume(ctx context.Context, token string, r *workflows.Resume) (*Wait, error)
}

// Wait is a wait step of a run, as its resume URL's page shows it.
type Wait struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow"`
	Step     string `json:"step"`
}

var (
	// ErrNoWait is a token that names no wait: unknown, or the wait timed out or
	// ended with its run.
	ErrNoWait = errors.New("no wait at this address: the link is unknown or has expired")
	// ErrWaitResumed is a wait resumed already.
	ErrWaitResumed = errors.New("this wait was resumed already")
	// ErrBadToken is a token hookflow did not sign: a guess, or a link damaged, cut
	// short or redacted. It is an ErrNoWait, and answered as one; it is counted and
	// logged apart.
	ErrBadToken = fmt.Errorf("%w (not a resume token)", ErrNoWait)
)

// Resumes serves the resume URLs of wait steps under ResumePrefix on the public
// listener, apart from the webhooks under /hooks. GET shows a page with a button that
// POSTs, so that a link opened in a chat (or fetched for its preview) resumes nothing;
// POST resumes the wait with its body, headers and query.
type Resumes struct {
	resumer Resumer
	log     *slog.Logger
	maxBody int64
	metrics *Metrics // nil: none
	// refusedLog throttles the lines of the tokens not signed by hookflow, and of the
	// resumes that failed (Redis down): a flood of requests would write one each.
	refusedLog logthrottle.Throttle
}

// ResumePrefix is the path resume URLs are served under.
const ResumePrefix = "/resume/"

// NewResumes serves the resume URLs of resumer's waits. A body larger than a webhook's
// default limit is refused. WithMetrics counts the requests refused.
func NewResumes(resumer Resumer, log *slog.Logger, opts ...Option) *Resumes {
	return &Resumes{resumer: resumer, log: log, maxBody: DefaultMaxBody, metrics: newOptions(opts).metrics}
}

// FlushLogs writes the refusals' log lines held back now, as Webhooks.FlushLogs.
func (h *Resumes) FlushLogs() { h.refusedLog.Flush() }

// RefusedWhileShuttingDown counts a resume that the server refused because the process
// is stopping: it answers those before they reach Resumes.
func (h *Resumes) RefusedWhileShuttingDown() {
	h.metrics.refuseResume(resumeShuttingDown)
}

func (h *Resumes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, ResumePrefix)
	if !ok || token == "" || strings.Contains(token, "/") {
		h.failWith(w, r, ErrBadToken)
		return
	}
	// The token is the credential: it stays out of the pages others load, and of
	// caches.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.page(w, r, token)
	case http.MethodPost:
		h.resume(w, r, token)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.fail(w, r, resumeMethodNotAllowed, http.StatusMethodNotAllowed, r.Method+" does not resume a wait: POST does")
	}
}

// page shows the wait and a button that POSTs to the same URL, query included. A
// query that the POST would refuse is refused here, rather than shown as something
// else than it holds.
func (h *Resumes) page(w http.ResponseWriter, r *http.Request, token string) {
	wait, err := h.resumer.Waiting(r.Context(), token)
	if err != nil {
		h.failWith(w, r, err)
		return
	}
	query, problem := parseQuery(r.URL.RawQuery)
	if problem != "" {
		h.fail(w, r, resumeBadQuery, http.StatusBadRequest, problem)
		return
	}
	writePage(w, http.StatusOK, pageData{Title: fmt.Sprintf("Resume %q", wait.Step), Wait: wait, Form: true,
		Values: linkValues(query)})
}

// linkValue is one value a resume URL's query carries: what its button resumes the
// wait with, as steps.STEP.query reads it.
type linkValue struct{ Name, Value string }

// linkValues lists the values of a resume URL's query, by name, each value of a name
// given twice: the page shows them, so that whoever opened one of several links (an
// approval's approve and decline) sees which.
func linkValues(q map[string][]string) []linkValue {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []linkValue
	for _, name := range names {
		for _, v := range q[name] {
			out = append(out, linkValue{Name: name, Value: v})
		}
	}
	return out
}

// resume reads the request and resumes the wait with it.
func (h *Resumes) resume(w http.ResponseWriter, r *http.Request, token string) {
	// A token that names no wait is refused before its body is read: only a sender
	// given a resume URL makes hookflow hold a body for it.
	if _, err := h.resumer.Waiting(r.Context(), token); err != nil {
		h.failWith(w, r, err)
		return
	}
	if lengthRequired(r) {
		w.Header().Set("Connection", "close")
		h.fail(w, r, resumeReadError, http.StatusLengthRequired, errLengthRequired)
		return
	}
	// A compressed body is refused before it is read, with a reason, as a webhook's
	// is, rather than parsed as if it were plain and refused as malformed.
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		w.Header().Set("Accept-Encoding", "identity")
		h.fail(w, r, resumeUnsupportedType, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Encoding %s is not accepted: send the body uncompressed", ce))
		return
	}
	if r.ContentLength > h.maxBody {
		w.Header().Set("Connection", "close")
		h.fail(w, r, resumeTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", h.maxBody))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, resumeTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", tooBig.Limit))
			return
		}
		h.fail(w, r, resumeReadError, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	query, problem := parseQuery(r.URL.RawQuery)
	if problem != "" {
		h.fail(w, r, resumeBadQuery, http.StatusBadRequest, problem)
		return
	}
	res, err := workflows.NewResume(r.Header.Get("Content-Type"), raw, r.Header, query)
	switch {
	case errors.Is(err, workflows.ErrNotText):
		h.fail(w, r, resumeUnsupportedType, http.StatusUnsupportedMediaType, err.Error())
		return
	case err != nil:
		h.fail(w, r, resumeBadBody, http.StatusBadRequest, err.Error())
		return
	}
	wait, err := h.resumer.Resume(r.Context(), token, res)
	if err != nil {
		h.failWith(w, r, err)
		return
	}
	if wantsHTML(r) {
		writePage(w, http.StatusOK, pageData{Title: "Resumed", Wait: wait, Done: true, Values: linkValues(query)})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "resumed", "run_id": wait.RunID, "step": wait.Step})
}

// failWith answers a Resumer's error. A token hookflow did not sign is answered as
// one whose wait is over, and logged (once a second at most: a flood of guesses would
// write a line for each), without the token, which may be a real one damaged. A resume
// that failed (Redis down) is answered 503 and logged once a second at most too.
func (h *Resumes) failWith(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrBadToken):
		h.refusedLog.Log(h.log, slog.LevelWarn, "resume refused", "reason", "not a resume token", "method", r.Method,
			"remote", r.RemoteAddr)
		h.fail(w, r, resumeBadToken, http.StatusNotFound, ErrNoWait.Error())
	case errors.Is(err, ErrNoWait):
		h.fail(w, r, resumeNotFound, http.StatusNotFound, ErrNoWait.Error())
	case errors.Is(err, ErrWaitResumed):
		h.fail(w, r, resumeResumed, http.StatusConflict, ErrWaitResumed.Error())
	default:
		h.refusedLog.Log(h.log, slog.LevelError, "resuming a wait failed", "err", err)
		w.Header().Set("Retry-After", "5")
		msg := "cannot resume right now; retry later"
		var refused interface{ Refusal() string }
		if errors.As(err, &refused) {
			msg = "cannot resume right now: Redis refused it: " + refused.Refusal() + "; retry later"
		}
		h.fail(w, r, resumeUnavailable, http.StatusServiceUnavailable, msg)
	}
}

// fail answers an error as a page to a browser, as JSON to anything else, and counts
// it.
func (h *Resumes) fail(w http.ResponseWriter, r *http.Request, why resumeReason, status int, msg string) {
	h.metrics.refuseResume(why)
	if wantsHTML(r) {
		writePage(w, status, pageData{Title: http.StatusText(status), Message: msg})
		return
	}
	httpjson.Error(w, status, msg)
}

// wantsHTML reports whether the request comes from a browser: a GET that accepts
// HTML, or the page's own form.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return strings.Contains(r.Header.Get("Accept"), "text/html")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" && strings.Contains(r.Header.Get("Accept"), "text/html")
}

type pageData struct {
	Title   string
	Wait    *Wait
	Form    bool        // the button that resumes
	Done    bool        // resumed by this request
	Values  []linkValue // the values of the URL's query, which the wait is resumed with
	Message string
}

// resumePage is the page of a resume URL: small, readable without scripts or styles
// from elsewhere, and usable with a keyboard and a screen reader.
var resumePage = template.Must(template.New("resume").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · hookflow</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1a1a1a; }
button { font: inherit; padding: .6rem 1.4rem; border: 2px solid #1a4fd6; border-radius: .4rem; background: #1a4fd6; color: #fff; cursor: pointer; }
button:focus-visible { outline: 3px solid #f4b400; outline-offset: 2px; }
dt { font-weight: 600; }
code { overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{with .Wait}}<dl>
<dt>Workflow</dt><dd>{{.Workflow}}</dd>
<dt>Step</dt><dd>{{.Step}}</dd>
<dt>Run</dt><dd><code>{{.RunID}}</code></dd>
</dl>{{end}}
{{if .Values}}<p id="values">{{if .Done}}It was resumed{{else}}This link resumes it{{end}} with:</p>
<ul aria-labelledby="values">
{{range .Values}}<li><code>{{.Name}}</code> = <code>{{.Value}}</code></li>
{{end}}</ul>{{end}}
{{if .Form}}<p>The run is waiting at this step. Resuming it lets it go on; it can be done once.</p>
<form method="post">
<button type="submit">Resume</button>
</form>{{end}}
{{if .Done}}<p role="status">The run goes on. You can close this page.</p>{{end}}
{{with .Message}}<p role="alert">{{.}}</p>{{end}}
</main>
</body>
</html>
`))

func writePage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = resumePage.Execute(w, d)
}
