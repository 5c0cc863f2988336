// Package logthrottle keeps a kind of log line from flooding the log: an outage, an
// overload or a flood of forged requests would otherwise repeat one line for every
// request, or every turn of a loop that fails. Every throttled line in hookflow goes
// through a Throttle, so they all read alike (docs/operations.md).
package logthrottle

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Clock is the time a Throttle reads and the timers it sets. Tests pass one they move.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed.
	AfterFunc(d time.Duration, f func())
}

// Throttle writes each kind of log line once per Every at most. A line is written at
// once when none of its kind was in the last Every; the lines of its kind that come
// within that Every are held back, and once it ends the last of them is written, with
// the time it came, so that a burst is told when it ends rather than when the next
// one comes. Every line written says, as suppressed, how many lines of its kind were
// not written between the line of its kind written before it and itself. Kinds are
// apart, so that one failure does not hide another.
//
// The zero Throttle writes a line a second on the wall clock. Set Every and Clock
// before the first line.
type Throttle struct {
	// Every is how often a line of one kind is written at most; 0 is a second.
	Every time.Duration
	// Clock is the time read and the timers set; nil is the wall clock.
	Clock Clock

	mu    sync.Mutex
	kinds map[string]*kind // the few kinds: each call site's own
}

// kind is what a Throttle knows of one kind of line.
type kind struct {
	last    time.Time // when a line was last written
	held    int64     // the lines not written since
	latest  *heldLine // the last of them
	pending bool      // a flush is due
}

// heldLine is a line held back, to be written as it came.
type heldLine struct {
	log *slog.Logger
	ctx context.Context // its caller's, without its cancel: the line is written later
	rec slog.Record
}

func (t *Throttle) every() time.Duration {
	if t.Every > 0 {
		return t.Every
	}
	return time.Second
}

func (t *Throttle) now() time.Time {
	if t.Clock != nil {
		return t.Clock.Now()
	}
	return time.Now()
}

func (t *Throttle) afterFunc(d time.Duration, f func()) {
	if t.Clock != nil {
		t.Clock.AfterFunc(d, f)
		return
	}
	time.AfterFunc(d, f)
}

// Log writes a line of level with msg and args to l, with suppressed, or holds it back
// to the end of its Every. Its message is its kind.
func (t *Throttle) Log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	t.LogKind(msg, l, level, msg, args...)
}

// LogKind is Log for lines whose message varies (it quotes what failed): they are of
// the kind named key.
func (t *Throttle) LogKind(key string, l *slog.Logger, level slog.Level, msg string, args ...any) {
	t.LogKindContext(context.Background(), key, l, level, msg, args...)
}

// LogKindContext is LogKind with the caller's context, which l's handler gets, as
// slog's WarnContext gives it, when the line is written: at once, or when it is held
// back, later (its values; not its cancel).
func (t *Throttle) LogKindContext(ctx context.Context, key string, l *slog.Logger, level slog.Level, msg string, args ...any) {
	now := t.now()
	t.mu.Lock()
	if t.kinds == nil {
		t.kinds = map[string]*kind{}
	}
	k := t.kinds[key]
	if k == nil {
		k = &kind{}
		t.kinds[key] = k
	}
	if k.last.IsZero() || now.Sub(k.last) >= t.every() {
		suppressed := k.held
		k.last, k.held, k.latest = now, 0, nil
		t.mu.Unlock()
		if l.Enabled(ctx, level) {
			rec := slog.NewRecord(now, level, msg, 0)
			rec.Add(args...)
			write(heldLine{log: l, ctx: ctx, rec: rec}, suppressed)
		}
		return
	}
	k.held++
	if l.Enabled(ctx, level) {
		rec := slog.NewRecord(now, level, msg, 0)
		rec.Add(args...)
		k.latest = &heldLine{log: l, ctx: context.WithoutCancel(ctx), rec: rec}
	}
	schedule := !k.pending
	k.pending = true
	wait := k.last.Add(t.every()).Sub(now)
	t.mu.Unlock()
	if schedule {
		t.afterFunc(wait, func() { t.flush(key) })
	}
}

// flush writes the last line of kind key held back, once the Every of the line
// written before it has ended; unless a line written since told of it.
func (t *Throttle) flush(key string) {
	now := t.now()
	t.mu.Lock()
	k := t.kinds[key]
	if k.held == 0 {
		k.pending = false
		t.mu.Unlock()
		return
	}
	if wait := k.last.Add(t.every()).Sub(now); wait > 0 {
		t.mu.Unlock()
		t.afterFunc(wait, func() { t.flush(key) })
		return
	}
	h, suppressed := k.latest, k.held-1
	k.last, k.held, k.latest, k.pending = now, 0, nil, false
	t.mu.Unlock()
	if h != nil { // nil: held back at a level the logger does not write
		write(*h, suppressed)
	}
}

// Flush writes the last line held back of every kind now, in the order they came,
// whether or not their Every has ended: at a stop, before the process's last line.
// The timers' flushes then write nothing more.
func (t *Throttle) Flush() {
	type due struct {
		line       heldLine
		suppressed int64
	}
	var lines []due
	t.mu.Lock()
	for _, k := range t.kinds {
		if k.held == 0 {
			continue
		}
		if k.latest != nil {
			lines = append(lines, due{*k.latest, k.held - 1})
		}
		k.last, k.held, k.latest = t.now(), 0, nil
	}
	t.mu.Unlock()
	slices.SortFunc(lines, func(a, b due) int { return a.line.rec.Time.Compare(b.line.rec.Time) })
	for _, d := range lines {
		write(d.line, d.suppressed)
	}
}

// write hands a line's record to its logger's handler with suppressed, as the logger
// would have.
func write(h heldLine, suppressed int64) {
	h.rec.AddAttrs(slog.Int64("suppressed", suppressed))
	_ = h.log.Handler().Handle(h.ctx, h.rec)
}
