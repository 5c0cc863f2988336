package triggers

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is how often a throttled kind of log line is written at most.
const logEvery = time.Second

// logThrottle writes a kind of log line once a second at most: an outage, an overload
// or a flood of forged requests would otherwise repeat one line for every request.
// A line is written at once when none was in the last second; the lines that come
// within that second are held back, and once it ends the last of them is written, with
// the time it came, so that a burst is told when it ends rather than when the next one
// comes. Every line written says, as suppressed, how many lines were not written
// between the line written before it and itself. Metrics count every request still.
type logThrottle struct {
	now   func() time.Time            // nil: time.Now
	after func(time.Duration, func()) // nil: time.AfterFunc

	mu      sync.Mutex
	last    time.Time // when a line was last written
	held    int64     // the lines not written since
	latest  *heldLine // the last of them
	pending bool      // a flush is due
}

// heldLine is a line held back, to be written as it came.
type heldLine struct {
	log *slog.Logger
	rec slog.Record
}

func (t *logThrottle) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func (t *logThrottle) afterFunc(d time.Duration, f func()) {
	if t.after != nil {
		t.after(d, f)
		return
	}
	time.AfterFunc(d, f)
}

// log writes a line of level with msg and args to l, with suppressed, or holds it
// back to the end of the second.
func (t *logThrottle) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	now := t.clock()
	t.mu.Lock()
	if t.last.IsZero() || now.Sub(t.last) >= logEvery {
		suppressed := t.held
		t.last, t.held, t.latest = now, 0, nil
		t.mu.Unlock()
		if l.Enabled(ctx, level) {
			rec := slog.NewRecord(now, level, msg, 0)
			rec.Add(append(args, "suppressed", suppressed)...)
			_ = l.Handler().Handle(ctx, rec)
		}
		return
	}
	t.held++
	if l.Enabled(ctx, level) {
		rec := slog.NewRecord(now, level, msg, 0)
		rec.Add(args...)
		t.latest = &heldLine{log: l, rec: rec}
	}
	schedule := !t.pending
	t.pending = true
	wait := t.last.Add(logEvery).Sub(now)
	t.mu.Unlock()
	if schedule {
		t.afterFunc(wait, t.flush)
	}
}

// flush writes the last line held back, once the second of the line written before it
// has ended; unless a line written since told of it.
func (t *logThrottle) flush() {
	now := t.clock()
	t.mu.Lock()
	if t.held == 0 {
		t.pending = false
		t.mu.Unlock()
		return
	}
	if wait := t.last.Add(logEvery).Sub(now); wait > 0 {
		t.mu.Unlock()
		t.afterFunc(wait, t.flush)
		return
	}
	h, suppressed := t.latest, t.held-1
	t.last, t.held, t.latest, t.pending = now, 0, nil, false
	t.mu.Unlock()
	if h == nil { // held back at a level the logger does not write
		return
	}
	h.rec.AddAttrs(slog.Int64("suppressed", suppressed))
	_ = h.log.Handler().Handle(context.Background(), h.rec)
}

// flushNow writes the last line held back now, whether or not its second has ended:
// at a stop, before the process's last line.
func (t *logThrottle) flushNow() {
	t.mu.Lock()
	h, suppressed := t.latest, t.held-1
	if t.held == 0 {
		t.mu.Unlock()
		return
	}
	t.last, t.held, t.latest = t.clock(), 0, nil
	t.mu.Unlock()
	if h == nil {
		return
	}
	h.rec.AddAttrs(slog.Int64("suppressed", suppressed))
	_ = h.log.Handler().Handle(context.Background(), h.rec)
}
