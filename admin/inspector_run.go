package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/runes"
	"github.com/hookflow/hookflow/internal/shellquote"
	"github.com/hookflow/hookflow/workflows"
)

// runPage is a run as its page shows it: what the CLI's runs show prints, with every
// request and answer, and the buttons to replay it.
type runPage struct {
	page
	Run     *engine.Run
	Steps   []stepView
	Settled bool // it will not change unless replayed: the page stops polling
	MaxMS   int64
	Curl    string // the command that sends its event again; "" when there is none
	// CurlReads is its event body's length in characters when past pageChars: the
	// command reads the body from the run's JSON rather than holding it.
	CurlReads int
	// CanReplay says the run may be replayed, as the engine's Replay takes it: it
	// failed at a step (one that failed at its filter, before its first step, has no
	// dead letter, and is refused). The replay on its version, the one it is on now
	// (the one it started with, or the one a replay on the current version moved it
	// to), is offered disabled while Run.CallsGone names workflows that the steps that
	// failed it call and that are gone: it would fail again at those steps, and the
	// page says to restore them.
	CanReplay bool
	// CanReplayCurrent says it may be replayed on the current version too: its
	// workflow is still in use, with another version than the run's (with the same,
	// the replay would be the one on the run's version), that has the steps that
	// failed it (Run.CurrentLacks names those it has not, and the API would refuse).
	CanReplayCurrent bool
	// NotLoaded says the run's workflow is not among those loaded now: the run is
	// from the history, and nothing can start it again.
	NotLoaded bool
	// CanCancel says the run has not finished: it may be cancelled.
	CanCancel bool
	// CanExport says the run succeeded or failed: it can be copied as a workflow test
	// (GET /api/v1/runs/{id}/test, as hookflow runs export-test).
	CanExport bool
	// Waits are the wait steps the run waits at, each with its resume URL and a
	// button to resume it.
	Waits []waitView
}

// waitView is a wait step a run waits at, as its page offers to resume it.
type waitView struct {
	Step      string
	URL       string // its resume URL; "" when it cannot be made now
	CanResume bool   // not with the read-only token
}

// ResumeURLs gives the resume URL of a run's wait step: the engine is one.
type ResumeURLs interface {
	ResumeURL(ctx context.Context, workflow, run, step string) (string, error)
}

// stepView is a step, an item or a parallel block on a run's page.
type stepView struct {
	engine.StepRun
	RunID       string // its run's, for the link to the run's JSON where a value is cut
	VersionNote string // the version it ran with, when not the run's
	HeldMS      *int64 // how long a delay step held the run; the step itself takes no time
	InBlock     bool   // a step of a parallel block
	Items       []stepView
	MaxMS       int64
	// ChildRun is the id of the run a workflow step (or item) started, from its output.
	ChildRun string
	// Counts are how many of a for_each step's items are in each status.
	Counts []itemCount
	// Folded is how many of its items are not shown, past foldItems; AllShown says
	// they are all shown, past foldItems, as asked.
	Folded   int
	AllShown bool
}

// foldItems is how many items of a for_each step its run's page shows, unless asked
// for all of them: past it, the page shows how many items are in each status and the
// items that failed or are in flight (up to foldItems), and links to the page with
// them all.
const foldItems = 20

// itemCount is how many items of a for_each step have a status.
type itemCount struct {
	Status engine.Status
	N      int
}

// countOrder is the order item counts are said in.
var countOrder = []engine.Status{engine.StatusSucceeded, engine.StatusFailed, engine.StatusRetrying, engine.StatusRunning,
	engine.StatusWaiting, engine.StatusPending, engine.StatusSkipped, engine.StatusCancelled}

// shownFirst ranks the items a folded for_each step shows: those that failed, then
// those in flight, then those cancelled; the others are not shown.
var shownFirst = map[engine.Status]int{engine.StatusFailed: 1, engine.StatusRetrying: 2, engine.StatusWaiting: 3, engine.StatusRunning: 4, engine.StatusCancelled: 5}

func (p *pages) run(w http.ResponseWriter, r *http.Request) {
	run, err := p.runs.Run(r.Context(), runIDOf(r))
	if err != nil {
		p.failErr(w, r, err, "reading the run")
		return
	}
	v := runPage{page: p.base(r, "Run "+run.ID, "runs"), Run: run,
		Settled:   engine.RunStatus(run.Status).Done(),
		CanReplay: run.Status == engine.RunFailed && run.DeadLetter != "" && !readOnly(r),
		CanCancel: !engine.RunStatus(run.Status).Done() && !readOnly(r),
		CanExport: run.Status == engine.RunSucceeded || run.Status == engine.RunFailed}
	v.NotLoaded = p.workflows().Workflow(run.Workflow) == nil
	v.CanReplayCurrent = v.CanReplay && run.CurrentVersion != "" && !v.NotLoaded && len(run.CurrentLacks) == 0
	// The for_each steps whose items are all shown, each named by its path (reserve,
	// fan/kids) or by its name (kids): a child run's page links to the step of its
	// parent by the name its event holds, which is not the path of a step of a
	// parallel block.
	all := map[string]bool{}
	for _, step := range r.URL.Query()["items"] {
		all[step] = true
	}
	for _, s := range run.Steps {
		if s.DurationMS != nil && *s.DurationMS > v.MaxMS {
			v.MaxMS = *s.DurationMS
		}
	}
	for _, s := range run.Steps {
		v.Steps = append(v.Steps, viewStep(s, run, v.MaxMS, all[s.Path] || all[s.Name]))
		if s.Kind != "wait" || s.Status != engine.StatusWaiting || v.Settled {
			continue
		}
		w := waitView{Step: s.Name, CanResume: !readOnly(r)}
		if urls, ok := p.runs.(ResumeURLs); ok && !readOnly(r) {
			w.URL, _ = urls.ResumeURL(r.Context(), run.Workflow, run.ID, s.Name)
		}
		v.Waits = append(v.Waits, w)
	}
	v.Curl, v.CurlReads = p.curl(r.Context(), run)
	p.render(w, r, http.StatusOK, "run", v)
}

// viewStep is a step of run as its page shows it; allItems shows all its items, past
// foldItems too.
func viewStep(s engine.StepRun, run *engine.Run, maxMS int64, allItems bool) stepView {
	v := stepView{StepRun: s, RunID: run.ID, InBlock: s.Parallel != "", MaxMS: maxMS}
	if s.Version != "" && run.Version != "" && s.Version != run.Version {
		v.VersionNote = s.Version
	}
	if held, skipped, ok := s.Delay(); ok && !skipped {
		v.HeldMS = &held
	}
	if out, ok := s.Output.(map[string]any); ok && s.Kind == "workflow" {
		v.ChildRun, _ = out["run_id"].(string)
	}
	for _, it := range s.Items {
		v.Items = append(v.Items, viewStep(it, run, maxMS, false))
	}
	v.StepRun.Items = nil
	if len(v.Items) == 0 {
		return v
	}
	counts := map[engine.Status]int{}
	for _, it := range v.Items {
		counts[it.Status]++
	}
	for _, st := range countOrder {
		if counts[st] > 0 {
			v.Counts = append(v.Counts, itemCount{st, counts[st]})
		}
	}
	if len(v.Items) <= foldItems {
		return v
	}
	if allItems {
		v.AllShown = true
		return v
	}
	var shown []stepView
	for _, it := range v.Items {
		if shownFirst[it.Status] > 0 {
			shown = append(shown, it)
		}
	}
	slices.SortStableFunc(shown, func(a, b stepView) int { return shownFirst[a.Status] - shownFirst[b.Status] })
	if len(shown) > foldItems {
		shown = shown[:foldItems]
	}
	v.Folded, v.Items = len(v.Items)-len(shown), shown
	return v
}

// curl is the command that sends a run's event again: a webhook's to the path and
// query it came to, any other to the admin API's manual start; none for a run whose
// workflow is not loaded now, as nothing would take it. What the history hides
// (credential headers and fields, secrets in a path) stays hidden: the command carries
// no header but the content type, and [redacted] where a secret or a credential
// parameter of the query was.
//
// The body is sent as the history shows it (engine.EventBody): a text body as it
// came, anything else (a JSON string too) as compact JSON, its numbers as written.
// One past pageChars characters is not in the command, which the page would show cut
// (and past 128 KiB no shell takes as one argument): the command downloads it from the admin API (GET
// /api/v1/runs/{id}/event/body, the same bytes) and sends that, and reads is its
// length in characters. Without the admin API's address there is no such command.
func (p *pages) curl(ctx context.Context, run *engine.Run) (cmd string, reads int) {
	ev, wf := run.Event, p.workflows().Workflow(run.Workflow)
	if ev == nil || wf == nil {
		return "", 0
	}
	// The body with its numbers, and the path and query, as they came are not in the
	// run's view of its event (its numbers are float64, it has no query, and secrets
	// in its path are [redacted]): they are read as stored.
	stored, err := p.runs.RunEvent(ctx, run.ID)
	if err != nil {
		return "", 0
	}
	data, err := engine.EventBody(stored)
	if err != nil {
		return "", 0
	}
	body := string(data)
	ct := ""
	for k, val := range ev.Headers {
		if strings.EqualFold(k, "Content-Type") {
			ct = val
		}
	}
	method, target, auth := "", "", false
	if ev.Trigger == "webhook" && ev.Method != "" && ev.Path != "" {
		method, target = ev.Method, p.o.WebhookBase+hookURL(wf, stored.Path, stored.Query)
	}
	if target == "" {
		if p.o.AdminBase == "" {
			return "", 0
		}
		method, target, auth, ct = "POST", p.o.AdminBase+"/api/v1/workflows/"+url.PathEscape(run.Workflow)+"/runs", p.o.SignOut, "application/json"
	}
	// Every argument is quoted, each control character escaped: the command is pasted
	// into a terminal, and an event's body or content type is anyone's text.
	cmd = "curl -X " + shellquote.Word(method) + " " + shellquote.Quote(target)
	if auth {
		cmd += " -H " + adminToken
	}
	if ct != "" {
		cmd += " -H " + shellquote.Quote("Content-Type: "+ct)
	}
	if _, more := runes.Cut(body, pageChars); more == 0 && len(body) < maxArgBytes {
		if body != "" {
			cmd += " --data-raw " + shellquote.Quote(body)
		}
		return cmd, 0
	}
	if p.o.AdminBase == "" {
		return "", 0
	}
	// The body goes to a file of its own (mktemp: only the user reads it), removed as
	// the subshell exits, whose status is the command's that failed, or the last one's.
	// Each step runs only once the one before it succeeded: curl -f stops at a body
	// that cannot be read (a run expired, a token refused) before anything is sent.
	// --data-binary sends the file's bytes as they are, as --data-raw a shorter body.
	fetch := "curl -fsS -o \"$body\""
	if p.o.SignOut {
		fetch += " -H " + adminToken
	}
	fetch += " " + shellquote.Quote(p.o.AdminBase+"/api/v1/runs/"+url.PathEscape(run.ID)+"/event/body")
	return `(body=$(mktemp) && trap 'rm -f "$body"' EXIT && ` + fetch + ` && ` + cmd + ` --data-binary @"$body")`,
		utf8.RuneCountInString(body)
}

// maxArgBytes is the most bytes a body takes in the command itself: Linux takes no
// argument of 128 KiB or more (--data-raw's, quoted, is a little longer than the body).
const maxArgBytes = 120 << 10

// adminToken is the header of a command for the admin API, with the token from the
// environment, as the CLI reads it.
const adminToken = `"Authorization: Bearer $HOOKFLOW_ADMIN_TOKEN"`

// hookURL is the path and query a webhook's event came to (path is below /hooks, as
// the event has it), escaped for a URL: the values of the query's credential
// parameters, and wf's secrets wherever they are, are [redacted].
func hookURL(wf *workflows.Workflow, path string, query map[string][]string) string {
	target := (&url.URL{Path: "/hooks" + path}).EscapedPath()
	var params []string
	for _, k := range slices.Sorted(maps.Keys(query)) {
		for _, v := range query[k] {
			v = url.QueryEscape(v)
			if workflows.IsCredentialName(k) {
				v = workflows.Redacted
			}
			params = append(params, url.QueryEscape(k)+"="+v)
		}
	}
	if len(params) > 0 {
		target += "?" + strings.Join(params, "&")
	}
	return wf.Secrets.Encoded().String(target)
}

var pageFuncs = template.FuncMap{
	// seg is a run's, a dead letter's or a step's id as one segment of a URL path: a
	// child run's id holds its for_each key, which may hold '/', '?', '#' or "..".
	"seg": url.PathEscape,
	// json is v as indented JSON, for reading.
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // html/template escapes what it prints
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	},
	"ms": func(p *int64) string {
		if p == nil {
			return ""
		}
		return formatMS(*p)
	},
	"msn": formatMS,
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	// when is a time for the page, UTC; the script shows it in the reader's zone.
	"when": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	},
	"iso": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format(time.RFC3339Nano)
		case *time.Time:
			if t != nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
		return ""
	},
	"statusText": http.StatusText,
	"requestLine": func(q workflows.Request) string {
		if q.Lost { // what it sent is not known: its worker stopped while it ran
			return fmt.Sprintf("attempt %d lost: %s", q.Attempt, q.Error)
		}
		answer := fmt.Sprintf("no answer in %s", formatMS(q.DurationMS))
		if q.Status != 0 {
			answer = fmt.Sprintf("%d %s in %s", q.Status, http.StatusText(q.Status), formatMS(q.DurationMS))
		}
		return fmt.Sprintf("attempt %d: %s %s → %s", q.Attempt, q.Method, shortURL(q.URL, lineURL), answer)
	},
	"short": func(s string, n int) string {
		s = strings.Join(strings.Fields(s), " ")
		if r := []rune(s); len(r) > n {
			return string(r[:n]) + "…"
		}
		return s
	},
	"settled": func(s engine.Status) bool { return s.Settled() },
	// cut is a value of a run as a page shows it, through the template "cut": its
	// first pageChars characters, then how many more, with a link to the run's JSON.
	"cut":   cut,
	"chars": chars,
	"domid": domID,
	// present says an event has a body, whatever it is: 0, false, "" and {} are bodies.
	"present": func(v any) bool { return v != nil },
}

// domID is a step's path (or any name) as part of an element's id: an id holds no
// whitespace, so whitespace, and the '%' that escapes it, are percent-encoded; the
// rest is kept (on_failure/ack, reserve[us]). So is a bidirectional formatting
// character (U+202E), which the page would show as its escape in the id (see
// bidiWriter), and not in the link to it, whose fragment is percent-encoded: encoded
// in both, the link lands on the element. Such an id is no CSS selector: the script
// finds elements by getElementById.
func domID(s string) string {
	if !strings.ContainsFunc(s, encodedInID) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !encodedInID(r) {
			b.WriteRune(r)
			continue
		}
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// encodedInID says domID percent-encodes r.
func encodedInID(r rune) bool {
	return r == '%' || unicode.IsSpace(r) || unicode.Is(unicode.Bidi_Control, r)
}

// lineURL is about how much of a URL a request's line shows.
const lineURL = 80

// shortURL is a URL cut to about n characters, for a line that names it: its scheme,
// its host whole and the start of its path, then "…". The request under the line has
// it whole.
func shortURL(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		n = max(n, len([]rune(u.Scheme+"://"+u.Host))+12) // a long host, and a little of the path
	}
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func formatMS(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%dms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1fs", float64(ms)/1000)
	}
	return workflows.FormatDuration((time.Duration(ms) * time.Millisecond).Round(time.Second))
}
