package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// versions holds every workflow version this process can run. A run is pinned to the
// version it started with; the version's source files are stored in Redis the first
// time this process starts a run of it, so a process that never loaded that version
// (another worker, or this one after a restart and an edit) loads it from there.
//
// Only the files are stored. env(), secret() and file() are read again by the process
// that loads them, from its own environment: what secret() reads never goes to Redis.
// A credential written out in a file goes with the file (the load warns of it).
//
// A version from Redis may have been stored by another build: it loads as a stored
// version (workflows.Options.Stored), where the checks a newer build adds of likely
// mistakes warn, so that an upgrade does not fail the runs in flight.
//
// The versions in use are always kept. Of the others, those a reload left behind or
// that were loaded for runs that started on them, the keepsOld used last are kept; one
// needed again after that is loaded from Redis again, as another process loads it.
// So a process that is reloaded all day holds no more than that.
type versions struct {
	rdb    redis.UniversalClient
	shards int              // the queue's shards: a version's sources are in its workflow's (0: one)
	kinds  *workflows.Kinds // nil: versions cannot be loaded from Redis
	ttl    time.Duration
	log    *slog.Logger

	mu    sync.RWMutex
	byKey map[string]*version // by name@version
	// current is, by name, the version of each workflow of the set in use (Engine.Use):
	// what a replay on the current version goes on with.
	current map[string]*version
	// redactor is the set in use's one redactor, which every workflow of it shares.
	redactor *workflows.Redactor
	load     sync.Mutex // one load from Redis at a time
}

type version struct {
	wf       *workflows.Workflow
	storedAt atomic.Int64 // when this process last stored its sources in Redis (Unix s)
	usedAt   atomic.Int64 // when this process last got it for a run (Unix ns, to the second)
}

// keepOld is how many versions not in use a process keeps loaded, at least: twice the
// workflows in use, when more, so that an edit of a file every workflow reads (its
// vars) keeps the versions the runs going on still run.
const keepOld = 32

// keepsOld is how many versions not in use are kept. vs.mu is held.
func (vs *versions) keepsOld() int { return max(keepOld, 2*len(vs.current)) }

// touch marks v used now. It writes only once a second, so the goroutines that run a
// version's steps do not all write the same word for every step.
func (v *version) touch() {
	now := time.Now().UnixNano()
	if now-v.usedAt.Load() >= int64(time.Second) {
		v.usedAt.Store(now)
	}
}

// restoreAfter is how often a process stores a version it runs again: the keys' expiry
// starts over, and keys lost with a Redis (a failover, a flush) come back.
const restoreAfter = 24 * time.Hour

func versionKey(name, ver string) string { return name + "@" + ver }

// add makes wf runnable here, unless a workflow of its name and version is already.
func (vs *versions) add(wf *workflows.Workflow) *version {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	v := vs.insert(wf)
	vs.dropOld()
	return v
}

// insert keeps wf as a version, unless a version of its name and version is kept
// already, which it returns instead. vs.mu is held.
func (vs *versions) insert(wf *workflows.Workflow) *version {
	key := versionKey(wf.Name, wf.Version)
	if had, ok := vs.byKey[key]; ok {
		had.touch()
		return had
	}
	v := &version{wf: wf}
	v.touch()
	vs.byKey[key] = v
	return v
}

// dropOld drops the versions not in use that were used least lately, past keepOld.
// Without kinds none is dropped: it could not be loaded again. vs.mu is held.
func (vs *versions) dropOld() {
	keep := vs.keepsOld()
	if vs.kinds == nil || len(vs.byKey) <= len(vs.current)+keep {
		return
	}
	type old struct {
		key  string
		used int64 // read once: touch writes it without the lock
	}
	var olds []old
	for key, v := range vs.byKey {
		if vs.current[v.wf.Name] != v {
			olds = append(olds, old{key, v.usedAt.Load()})
		}
	}
	if len(olds) <= keep {
		return
	}
	slices.SortFunc(olds, func(a, b old) int { return cmp.Compare(a.used, b.used) })
	for _, o := range olds[:len(olds)-keep] {
		delete(vs.byKey, o.key)
	}
}

// use makes the versions of the set in use the current ones, added as add does. It
// returns the workflows whose concurrency limit is not the one their version in use
// before held (all of them, the first time).
func (vs *versions) use(wfs []*workflows.Workflow) (limits []string) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	current := make(map[string]*version, len(wfs))
	vs.redactor = nil
	for _, wf := range wfs {
		if was := vs.current[wf.Name]; was == nil || was.wf.Concurrency != wf.Concurrency {
			limits = append(limits, wf.Name)
		}
		v := vs.insert(wf)
		if v.wf != wf {
			// The set's own copy is the one in use: one kept may have been loaded from
			// Redis for a run, with the secrets of its own files only.
			nv := &version{wf: wf}
			nv.storedAt.Store(v.storedAt.Load())
			nv.touch()
			vs.byKey[versionKey(wf.Name, wf.Version)], v = nv, nv
		}
		current[wf.Name] = v
		vs.redactor = wf.Secrets
	}
	vs.current = current
	vs.dropOld()
	return limits
}

// currentOf returns the version of workflow name in the set in use, or nil when the
// set has no such workflow.
func (vs *versions) currentOf(name string) *version {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return vs.current[name]
}

// secrets hides the secrets of the workflows in use: the set's one redactor, which
// every workflow of it shares. Nil before a set is used.
func (vs *versions) secrets() *workflows.Redactor {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	if vs.redactor == nil {
		return nil
	}
	return vs.redactor.Encoded()
}

// loaded returns a version this process has, or nil. touch marks it used: it runs.
func (vs *versions) loaded(name, ver string, touch bool) *workflows.Workflow {
	vs.mu.RLock()
	v := vs.byKey[versionKey(name, ver)]
	vs.mu.RUnlock()
	if v == nil {
		return nil
	}
	if touch {
		v.touch()
	}
	return v.wf
}

// store puts the version's sources in Redis, when this process has not for a day: in
// its workflow's shard, then outside the shards for older builds (keys.go). Only the
// first can fail it: a start needs no slot but its shard's. When the second fails,
// store tries again a minute later.
func (vs *versions) store(ctx context.Context, v *version) error {
	now := time.Now().Unix()
	if now-v.storedAt.Load() < int64(restoreAfter/time.Second) {
		return nil
	}
	type file struct {
		Name string `json:"name"`
		Sum  string `json:"sha256"`
	}
	files := make([]file, len(v.wf.Sources))
	for i, src := range v.wf.Sources {
		sum := sha256.Sum256(src.Data)
		files[i] = file{Name: src.Name, Sum: hex.EncodeToString(sum[:])}
	}
	list, err := json.Marshal(files)
	if err != nil {
		return err
	}
	write := func(ctx context.Context, prefix string) error {
		pipe := vs.rdb.Pipeline()
		for i, src := range v.wf.Sources {
			pipe.Set(ctx, sourceKey(prefix, files[i].Sum), src.Data, vs.ttl)
		}
		pipe.Set(ctx, versionSourcesKey(prefix, v.wf.Name, v.wf.Version), list, vs.ttl)
		_, err := pipe.Exec(ctx)
		return err
	}
	if err := write(ctx, vs.prefix(v.wf.Name)); err != nil {
		return fmt.Errorf("storing the source of %s: %w", v.wf.Name, err)
	}
	older, cancel := context.WithTimeout(ctx, unshardedWait)
	err = write(older, unshardedPrefix)
	cancel()
	if err != nil {
		vs.log.Warn("could not store a workflow version's source where builds before its move into the shards read it; trying again in a minute",
			"workflow", v.wf.Name, "version", v.wf.Version, "err", err)
		v.storedAt.Store(now - int64((restoreAfter-time.Minute)/time.Second))
		return nil
	}
	v.storedAt.Store(now)
	return nil
}

// unshardedWait bounds the write of a version's sources outside the shards, which a
// start waits for: their slot's primary may be down while the workflow's shard is up.
const unshardedWait = time.Second

// prefix is the prefix of the keys of workflow name's shard.
func (vs *versions) prefix(name string) string { return ShardPrefix(name, max(vs.shards, 1)) }

// get returns the version, loading it from the sources in Redis when this process does
// not have it, and keeping it. When the version cannot be built here (no source in
// Redis, or it does not load), the error is permanent (workflows.Permanent); a Redis
// error is not.
func (vs *versions) get(ctx context.Context, name, ver string) (*workflows.Workflow, error) {
	return vs.find(ctx, name, ver, true)
}

// view is get for a run shown, not run: a version loaded for it is not kept, so that
// looking through old runs does not drop the versions runs are running on.
func (vs *versions) view(ctx context.Context, name, ver string) (*workflows.Workflow, error) {
	return vs.find(ctx, name, ver, false)
}

func (vs *versions) find(ctx context.Context, name, ver string, keep bool) (*workflows.Workflow, error) {
	if wf := vs.loaded(name, ver, keep); wf != nil {
		return wf, nil
	}
	vs.load.Lock()
	defer vs.load.Unlock()
	if wf := vs.loaded(name, ver, keep); wf != nil {
		return wf, nil
	}
	if vs.kinds == nil {
		return nil, workflows.Permanent(fmt.Errorf("workflow %s version %s is not loaded in this process", name, ver))
	}
	srcs, err := vs.fetch(ctx, name, ver)
	if err != nil {
		return nil, err
	}
	// The build that started its runs accepted the files: the checks this one added
	// of likely mistakes warn (Options.Stored), and only what cannot run fails them.
	set, diags := workflows.LoadWith(srcs, vs.kinds, workflows.Options{Stored: true})
	if diags.HasErrors() {
		where := diagsWhere(diags, hcl.DiagError)
		vs.log.Error("a workflow version from Redis does not load in this process", "workflow", name, "version", ver,
			"errors", where)
		return nil, workflows.Permanent(fmt.Errorf("workflow %s version %s does not load in this process: %s",
			name, ver, where))
	}
	wf := set.Workflow(name)
	if wf == nil {
		return nil, workflows.Permanent(fmt.Errorf("the stored source of workflow %s version %s has no such workflow", name, ver))
	}
	if wf.Version != ver && wf.OlderVersion == ver {
		// An older build stored it, under the hash it gave the same files: the version
		// is that one, and its runs and records go on naming it.
		wf.Version = ver
	}
	if !keep {
		return wf, nil
	}
	if wf.Version != ver {
		// Its env(), secret() or file() values differ here; the run still gets the
		// steps it was started with.
		vs.log.Warn("workflow loaded from Redis reads different values in this process",
			"workflow", name, "version", ver, "here", wf.Version)
	}
	v := &version{wf: wf}
	v.storedAt.Store(time.Now().Unix())
	v.touch()
	vs.mu.Lock()
	key := versionKey(name, ver)
	had, added := vs.byKey[key] // added meanwhile, by a reload going back to it
	if added {
		v = had
	} else {
		vs.byKey[key] = v
		vs.dropOld()
	}
	vs.mu.Unlock()
	switch {
	case added:
	case len(diags) > 0:
		vs.log.Warn("workflow version loaded from Redis, with warnings", "workflow", name, "version", ver,
			"warnings", diagsWhere(diags, hcl.DiagWarning))
	default:
		vs.log.Info("workflow version loaded from Redis", "workflow", name, "version", ver)
	}
	return v.wf, nil
}

// diagsWhere lists the diagnostics of a severity by where and what, not their details:
// those may quote a value read from this process's environment, and a load error is
// recorded in the run.
func diagsWhere(diags hcl.Diagnostics, sev hcl.DiagnosticSeverity) string {
	var where []string
	for _, d := range diags {
		switch {
		case d.Severity != sev:
		case d.Subject != nil:
			where = append(where, fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
		default:
			where = append(where, d.Summary)
		}
	}
	return strings.Join(where, "; ")
}

// errNoSource is returned when Redis has no source for a version: it was never stored
// (it started on a hookflow that did not store sources) or it expired.
var errNoSource = errors.New("its source is not in Redis")

// fetch reads a version's sources from its workflow's shard, or, when the shard has
// none, from where older builds stored them (keys.go).
func (vs *versions) fetch(ctx context.Context, name, ver string) ([]workflows.Source, error) {
	prefix := vs.prefix(name)
	list, err := vs.rdb.Get(ctx, versionSourcesKey(prefix, name, ver)).Bytes()
	if errors.Is(err, redis.Nil) {
		prefix = unshardedPrefix
		list, err = vs.rdb.Get(ctx, versionSourcesKey(prefix, name, ver)).Bytes()
	}
	if errors.Is(err, redis.Nil) {
		return nil, workflows.Permanent(fmt.Errorf("workflow %s version %s is not loaded in this process and %w", name, ver, errNoSource))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the source of %s version %s: %w", name, ver, err)
	}
	var files []struct {
		Name string `json:"name"`
		Sum  string `json:"sha256"`
	}
	if err := json.Unmarshal(list, &files); err != nil {
		return nil, workflows.Permanent(fmt.Errorf("reading the source of %s version %s: %w", name, ver, err))
	}
	pipe := vs.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(files))
	for i, f := range files {
		cmds[i] = pipe.Get(ctx, sourceKey(prefix, f.Sum))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading the source of %s version %s: %w", name, ver, err)
	}
	srcs := make([]workflows.Source, len(files))
	for i, c := range cmds {
		data, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, workflows.Permanent(fmt.Errorf("workflow %s version %s: file %s: %w", name, ver, files[i].Name, errNoSource))
		}
		if err != nil {
			return nil, fmt.Errorf("reading the source of %s version %s: %w", name, ver, err)
		}
		srcs[i] = workflows.Source{Name: files[i].Name, Data: data}
	}
	return srcs, nil
}
