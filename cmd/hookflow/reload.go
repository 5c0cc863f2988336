package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// reloader loads the workflow directory again when it may have changed and, when the
// whole new set is valid and differs from the one in use, hands it to use; an invalid
// one changes nothing. It is what the watcher, SIGHUP and POST /api/v1/reload call.
type reloader struct {
	dir    string
	kinds  *workflows.Kinds
	log    *slog.Logger
	stderr io.Writer            // where diagnostics are rendered whole, as at start; nil with JSON logs (diagnosticsTo)
	use    func(*workflows.Set) // swaps the set in everywhere

	readDir func(dir string) ([]workflows.Source, hcl.Diagnostics) // workflows.ReadDir
	hooks   string                                                 // where the webhooks are served, for the log: http://host:port/hooks

	set atomic.Pointer[workflows.Set] // the set in use
	// shown is the status of the last reload, for Status: it never waits for a reload
	// in progress, whose read of the files may take long.
	shown atomic.Pointer[admin.ConfigStatus]

	mu      sync.Mutex // one reload at a time; guards what follows
	status  admin.ConfigStatus
	refused [sha256.Size]byte // the content of the files last refused, when the last reload was

	swapMu sync.Mutex // held to put a set in use, and to close; never while the files are read
	closed bool       // shutting down: no more sets put in use

	lastOK      prometheus.Gauge // 1 when the last reload succeeded
	lastSuccess prometheus.Gauge // when the set in use was loaded, Unix seconds
}

// newReloader starts from set, loaded from dir just before with the warnings rendered
// in warnings (n of them). A reload's diagnostics are logged to log and rendered whole
// to stderr, unless it is nil. Its metrics go to reg.
func newReloader(dir string, k *workflows.Kinds, set *workflows.Set, n int, warnings string, log *slog.Logger, stderr io.Writer,
	reg prometheus.Registerer, use func(*workflows.Set)) *reloader {
	r := &reloader{dir: dir, kinds: k, log: log, stderr: stderr, use: use, readDir: workflows.ReadDir,
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookflow_config_last_reload_successful",
			Help: "1 when the last load of the workflow files succeeded, 0 when it failed and the previous ones are still in use."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookflow_config_last_reload_success_timestamp_seconds",
			Help: "When the workflow files in use were loaded, Unix seconds."}),
	}
	reg.MustRegister(r.lastOK, r.lastSuccess)
	r.set.Store(set)
	now := time.Now().UTC()
	r.status = inUse(dir, set, now)
	r.status.Warnings, r.status.WarningsText = n, warnings
	r.lastOK.Set(1)
	r.lastSuccess.Set(float64(now.UnixMilli()) / 1000)
	r.show()
	return r
}

// Status is the outcome of the last reload that finished: one in progress, reading the
// files, does not hold it up.
func (r *reloader) Status() admin.ConfigStatus {
	return *r.shown.Load()
}

// show makes r.status what Status returns. Called with r.mu held.
func (r *reloader) show() {
	st := r.status
	r.shown.Store(&st)
}

// Close refuses to put a set in use from now on: the process is stopping what a
// reload would restart. It waits for a set being put in use, but not for a reload
// reading the files, which may take long (a file on a stalled network mount): such
// a reload finds it closed once read, and changes nothing.
func (r *reloader) Close() {
	r.swapMu.Lock()
	r.closed = true
	r.swapMu.Unlock()
}

// isClosed reports whether Close was called.
func (r *reloader) isClosed() bool {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	return r.closed
}

// swap puts set in use, unless Close was called: then it reports false.
func (r *reloader) swap(set *workflows.Set) bool {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	if r.closed {
		return false
	}
	r.use(set)
	r.set.Store(set)
	return true
}

// shuttingDown is the answer to a reload once Close was called.
func (r *reloader) shuttingDown() admin.ConfigStatus {
	st := r.status
	st.OK, st.Error = false, "hookflow is shutting down"
	return st
}

// Reload loads the directory, and uses what it loaded if it is valid and differs from
// the set in use: a workflow added, removed, or of another version (versions cover
// the files' contents, vars, and what env() and file() read), or written elsewhere in
// the files (versions unchanged). why says who asked for it (SIGHUP, POST
// /api/v1/reload), for the log, which tells each refusal.
func (r *reloader) Reload(why string) admin.ConfigStatus {
	return r.reload(why, true)
}

// Changed is Reload for the watcher, which calls when the files may have changed: a
// refusal is logged once for each content of the files.
func (r *reloader) Changed(why string) admin.ConfigStatus {
	return r.reload(why, false)
}

func (r *reloader) reload(why string, asked bool) admin.ConfigStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.show()
	if r.isClosed() {
		return r.shuttingDown()
	}
	srcs, diags := r.readDir(r.dir)
	var set *workflows.Set
	if !diags.HasErrors() {
		var loaded hcl.Diagnostics
		// Of two workflows of one name, the one just added is the duplicate.
		set, loaded = workflows.LoadWith(srcs, r.kinds, workflows.Options{InUse: r.set.Load()})
		diags = append(diags, loaded...) // the reading's warnings too
	}
	now := time.Now().UTC()
	if diags.HasErrors() {
		r.refuse(why, asked, srcs, diags, now)
		return r.status
	}
	r.status.LoadedAt = now
	r.lastOK.Set(1)
	prev := r.set.Load()
	if sameVersions(set, prev) {
		return r.unchanged(why, set, srcs, diags)
	}
	if !r.swap(set) {
		return r.shuttingDown()
	}
	r.status = inUse(r.dir, set, now)
	r.lastSuccess.Set(float64(now.UnixMilli()) / 1000)
	attrs := append([]any{"dir", r.dir, "why", why, "workflows", len(set.Workflows())}, changesOf(prev, set)...)
	if len(diags) == 0 {
		r.log.Info("workflows reloaded", attrs...)
	} else {
		var out strings.Builder
		_ = workflows.WriteDiagnostics(&out, srcs, diags)
		r.status.Warnings, r.status.WarningsText = len(diags), out.String()
		r.log.Warn("workflows reloaded with warnings", append(attrs, "warnings", len(diags),
			"first", firstDiagnostic(diags, hcl.DiagWarning), "diagnostics", out.String())...)
		r.render(out.String())
	}
	r.logWebhooks(prev, set)
	return r.status
}

// changesOf lists, for the log, the workflows next adds to prev, removes from it, and
// changes (another version), as "added", "removed" and "changed": each list of names,
// when there are any.
func changesOf(prev, next *workflows.Set) []any {
	var added, removed, changed []string
	for _, wf := range next.Workflows() {
		switch was := prev.Workflow(wf.Name); {
		case was == nil:
			added = append(added, wf.Name)
		case was.Version != wf.Version:
			changed = append(changed, wf.Name)
		}
	}
	for _, wf := range prev.Workflows() {
		if next.Workflow(wf.Name) == nil {
			removed = append(removed, wf.Name)
		}
	}
	var attrs []any
	for _, l := range []struct {
		key   string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(l.names) > 0 {
			attrs = append(attrs, l.key, strings.Join(l.names, ","))
		}
	}
	return attrs
}

// logWebhooks logs the webhook URLs next adds to prev, one line each as serve's start
// does ("webhook"), and those it removes ("webhook removed").
func (r *reloader) logWebhooks(prev, next *workflows.Set) {
	if r.hooks == "" {
		return // a worker's: it serves no webhooks
	}
	before, after := r.webhooks(prev), r.webhooks(next)
	for _, w := range before {
		if !slices.ContainsFunc(after, w.same) {
			r.log.Info("webhook removed", w.attrs...)
		}
	}
	for _, w := range after {
		if !slices.ContainsFunc(before, w.same) {
			r.log.Info("webhook", w.attrs...)
		}
	}
}

// announced is a webhook as serve logs it: the workflow, method and URL.
type announced struct {
	key   string // the attributes, as one text
	attrs []any
}

func (a announced) same(b announced) bool { return a.key == b.key }

// webhooks lists the webhooks of set as serve logs them, in the set's order.
func (r *reloader) webhooks(set *workflows.Set) []announced {
	var out []announced
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			if w, ok := t.Config.(*triggers.Webhook); ok {
				_, attrs := w.Announce(wf, r.hooks)
				out = append(out, announced{key: fmt.Sprint(attrs...), attrs: attrs})
			}
		}
	}
	return out
}

// refuse records a reload of files with errors, and logs it: whole the first time,
// in short when the same errors are found again on a reload asked for or another
// content of the files, not at all for the files as they were when last refused.
func (r *reloader) refuse(why string, asked bool, srcs []workflows.Source, diags hcl.Diagnostics, now time.Time) {
	needRestart(diags)
	var out strings.Builder
	_ = workflows.WriteDiagnostics(&out, srcs, diags)
	content := contentHash(srcs)
	errs, _ := count(diags)
	switch {
	case r.status.OK || r.status.Error != out.String():
		r.log.Error("workflows not reloaded: the new files have errors; still serving the previous ones",
			"dir", r.dir, "why", why, "err", firstError(diags), "errors", errs, "diagnostics", out.String())
		r.render(out.String())
	case asked || content != r.refused:
		// The same errors, told again in short: hookflow status shows them whole.
		r.log.Error("workflows not reloaded: the files still have errors; still serving the previous ones",
			"dir", r.dir, "why", why, "err", firstError(diags), "errors", errs)
	default:
		r.status.LoadedAt = now // the files as they were when last refused: logged already
		return
	}
	r.refused = content
	r.status.LoadedAt = now
	if r.status.OK { // the first failure of a streak: the files fail since now
		r.status.FailingSince = &now
	}
	r.status.OK, r.status.Error = false, out.String()
	r.lastOK.Set(0)
}

// unchanged ends a reload of valid files that hold the workflows in use at their
// versions. Where they are written may have changed all the same (a file renamed or
// moved, lines added above a workflow): set, which says where, is put in use then,
// versions and runs unchanged, so that the workflow list shows each where it is now.
func (r *reloader) unchanged(why string, set *workflows.Set, srcs []workflows.Source, diags hcl.Diagnostics) admin.ConfigStatus {
	if moved := movedWorkflows(r.set.Load(), set); len(moved) > 0 {
		if !r.swap(set) {
			return r.shuttingDown()
		}
		r.log.Info("workflows moved in their files; their versions in use are unchanged", "dir", r.dir, "why", why,
			"moved", strings.Join(moved, ","))
	}
	if !r.status.OK {
		r.log.Info("workflow files valid again; the ones in use are unchanged", "dir", r.dir, "why", why)
	}
	r.status.OK, r.status.Error, r.status.FailingSince = true, "", nil
	// The warnings may have changed all the same (a credential taken out of an api
	// no workflow uses): the status shows those of the files as they are now.
	var out strings.Builder
	if len(diags) > 0 {
		_ = workflows.WriteDiagnostics(&out, srcs, diags)
	}
	if out.String() != r.status.WarningsText && len(diags) > 0 {
		r.log.Warn("workflow files changed with warnings; the ones in use are unchanged", "dir", r.dir, "why", why,
			"warnings", len(diags), "first", firstDiagnostic(diags, hcl.DiagWarning), "diagnostics", out.String())
		r.render(out.String())
	}
	r.status.Warnings, r.status.WarningsText = len(diags), out.String()
	return r.status
}

// render writes diagnostics rendered whole to stderr, as validate prints them: with
// text logs only, as a JSON log's lines carry them.
func (r *reloader) render(diagnostics string) {
	if r.stderr != nil {
		_, _ = io.WriteString(r.stderr, diagnostics)
	}
}

// contentHash identifies the content of the files read: their names and bytes.
func contentHash(srcs []workflows.Source) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%d:%s%d:", len(s.Name), s.Name, len(s.Data))
		h.Write(s.Data)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// firstError is the first error of diags as validate prints them, on one line:
// file:line:col: summary.
func firstError(diags hcl.Diagnostics) string {
	return firstDiagnostic(diags, hcl.DiagError)
}

// firstDiagnostic is the first diagnostic of diags of severity sev as validate prints
// them, on one line: file:line:col: summary.
func firstDiagnostic(diags hcl.Diagnostics, sev hcl.DiagnosticSeverity) string {
	for _, d := range workflows.SortDiagnostics(diags) {
		if d.Severity != sev {
			continue
		}
		if d.Subject == nil {
			return d.Summary
		}
		return fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
	}
	return ""
}

// inUse is the status of a set just put in use.
func inUse(dir string, set *workflows.Set, now time.Time) admin.ConfigStatus {
	versions := make(map[string]string, len(set.Workflows()))
	for _, wf := range set.Workflows() {
		versions[wf.Name] = wf.Version
	}
	return admin.ConfigStatus{OK: true, Dir: dir, Workflows: len(set.Workflows()), Versions: versions, LoadedAt: now, LastSuccessAt: now}
}

// needRestart says, in the diagnostics of env() and secret() reading a variable that
// is not set, that a reload cannot fix it: the process's environment is the one it
// started with, and only a restart with the variable exported gives it.
func needRestart(diags hcl.Diagnostics) {
	for _, d := range diags {
		u, ok := hcl.DiagnosticExtra[*workflows.UnsetVariable](d)
		if !ok {
			continue
		}
		d.Detail = fmt.Sprintf("%s is not in the environment hookflow started with, and a reload (a file change, SIGHUP, "+
			"POST /api/v1/reload) reads only that one. Export %s where hookflow runs and restart it; "+
			"until then the workflows loaded before keep serving.", u.Name, u.Name)
	}
}

// movedWorkflows lists, by name, the workflows of a written elsewhere in b: in another
// file, or at another place in theirs. A workflow's version leaves out where it is
// written.
func movedWorkflows(a, b *workflows.Set) []string {
	var moved []string
	for _, wf := range a.Workflows() {
		if other := b.Workflow(wf.Name); other != nil && other.DefRange != wf.DefRange {
			moved = append(moved, wf.Name)
		}
	}
	return moved
}

// sameVersions reports whether a and b hold the same workflows at the same versions.
func sameVersions(a, b *workflows.Set) bool {
	if len(a.Workflows()) != len(b.Workflows()) {
		return false
	}
	for _, wf := range a.Workflows() {
		if other := b.Workflow(wf.Name); other == nil || other.Version != wf.Version {
			return false
		}
	}
	return true
}
