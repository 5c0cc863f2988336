package main

import (
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/workflows"
)

// reloader loads the workflow directory again when it changes and, when the whole new
// set is valid, hands it to use; an invalid one changes nothing. It is what the
// watcher, SIGHUP and POST /api/v1/reload call.
type reloader struct {
	dir   string
	kinds *workflows.Kinds
	log   *slog.Logger
	use   func(*workflows.Set) // swaps the set in everywhere

	set atomic.Pointer[workflows.Set] // the set in use

	mu     sync.Mutex // one reload at a time; guards what follows
	sum    [32]byte   // of the sources of the last set tried
	status admin.ConfigStatus
}

// newReloader starts from set, loaded from dir just before.
func newReloader(dir string, k *workflows.Kinds, set *workflows.Set, log *slog.Logger, use func(*workflows.Set)) *reloader {
	srcs, _ := workflows.ReadDir(dir)
	r := &reloader{dir: dir, kinds: k, log: log, use: use, sum: sourcesSum(srcs)}
	r.set.Store(set)
	now := time.Now().UTC()
	r.status = admin.ConfigStatus{OK: true, Workflows: len(set.Workflows()), LoadedAt: now, LastSuccessAt: now}
	return r
}

// workflow is the workflow of that name in the set in use.
func (r *reloader) workflow(name string) *workflows.Workflow { return r.set.Load().Workflow(name) }

// Status is the outcome of the last reload.
func (r *reloader) Status() admin.ConfigStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Reload reads the directory and, if its files changed and load cleanly, uses them.
// why says what asked for it, for the log.
func (r *reloader) Reload(why string) admin.ConfigStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	srcs, diags := workflows.ReadDir(r.dir)
	sum := sourcesSum(srcs)
	if !diags.HasErrors() && sum == r.sum {
		return r.status // nothing changed since the last load, good or bad
	}
	r.sum = sum
	var set *workflows.Set
	if !diags.HasErrors() {
		set, diags = workflows.Load(srcs, r.kinds)
	}
	now := time.Now().UTC()
	r.status.LoadedAt = now
	if diags.HasErrors() {
		var out strings.Builder
		_ = workflows.WriteDiagnostics(&out, srcs, diags)
		r.status.OK, r.status.Error = false, out.String()
		r.log.Error("workflows not reloaded: the new files have errors; still serving the previous ones",
			"dir", r.dir, "why", why, "diagnostics", r.status.Error)
		return r.status
	}
	r.use(set)
	r.set.Store(set)
	r.status = admin.ConfigStatus{OK: true, Workflows: len(set.Workflows()), LoadedAt: now, LastSuccessAt: now}
	r.log.Info("workflows reloaded", "dir", r.dir, "why", why, "workflows", len(set.Workflows()))
	return r.status
}

// sourcesSum identifies a directory's workflow files by their names and contents.
func sourcesSum(srcs []workflows.Source) [32]byte {
	h := sha256.New()
	for _, s := range srcs {
		h.Write([]byte(s.Name))
		h.Write([]byte{0})
		h.Write(s.Data)
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
