package triggers

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/workflows"
)

// Ticks is what a Scheduler needs of the engine: starting the run of a tick once, and
// remembering, across processes, the last tick of each schedule that started one.
type Ticks interface {
	// LastTick returns the last tick of schedule started; for a schedule never seen, it
	// records the time now and returns it.
	LastTick(ctx context.Context, wf *workflows.Workflow, schedule string) (time.Time, error)
	// StartTick starts the run of tick and records it as schedule's last, atomically.
	// For a tick started already it returns its run's id and first false; for one
	// before the last started, "" and false.
	StartTick(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event, schedule string, tick time.Time) (id string, first bool, err error)
	// ClaimTick records tick as schedule's last without starting a run, unless a
	// process claimed it, or a later one, already.
	ClaimTick(ctx context.Context, wf *workflows.Workflow, schedule string, tick time.Time) (bool, error)
	// UseSchedules records schedules as those of wf in use, and says which of them
	// were not in use when they were last recorded; known is false when none were.
	// With no schedules, it records that none is in use only where a record exists.
	UseSchedules(ctx context.Context, wf *workflows.Workflow, schedules []string) (notInUse map[string]bool, known bool, err error)
}

// Scheduler fires the schedule triggers of a workflow set. Every process serving the
// set runs one. A tick's run is started, and the tick recorded as its schedule's last,
// in one atomic step in Redis: the first process to start a tick starts its run, and a
// tick at or before the last started is skipped, so a tick starts one run however many
// processes fire it, and a process whose clock is behind fires nothing twice. After
// downtime a schedule starts one run for the latest tick it missed, not one per missed
// tick.
type Scheduler struct {
	ticks   Ticks
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics // nil: none

	loops loops

	mu        sync.Mutex
	inUse     map[string]bool                // the schedules of the set in use, by workflow and specKey
	scheduled map[string]*workflows.Workflow // the workflows of the set in use with a schedule
	loaded    bool                           // a set was used before: the next one is a reload
	// unrecorded are the workflows with no schedule whose record of none in use is not
	// written yet (Redis could not be reached): the next set's noneInUse writes it.
	unrecorded map[string]*workflows.Workflow
}

// NewScheduler returns a scheduler that starts runs with ticks.
func NewScheduler(ticks Ticks, log *slog.Logger, opts ...Option) *Scheduler {
	return &Scheduler{ticks: ticks, log: log, now: time.Now, metrics: newOptions(opts).metrics}
}

// Use stops the schedules of the previous set and starts those of set. A tick that
// falls while they are swapped is fired by the new set's schedule, as a catch-up. A
// schedule the previous set did not have (a file added back, a spec changed back to
// one used before) catches up on nothing, though Redis remembers a last tick of it:
// it is new to the files in use. So does one that was not in use when a process last
// read its workflow's files (Ticks.UseSchedules), as when a spec is changed back while
// no process runs: a restart is no reload, but the spec is as new.
func (s *Scheduler) Use(set *workflows.Set) {
	s.mu.Lock()
	inUse, added := map[string]bool{}, map[string]bool{}
	specs, scheduled := map[string]*specsInUse{}, map[string]*workflows.Workflow{}
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			if sch, ok := t.Config.(*Schedule); ok {
				k := wf.Name + "\x00" + sch.specKey()
				inUse[k] = true
				added[k] = s.loaded && !s.inUse[k]
				if specs[wf.Name] == nil {
					specs[wf.Name] = &specsInUse{}
				}
				specs[wf.Name].specs = append(specs[wf.Name].specs, sch.specKey())
				scheduled[wf.Name] = wf
			}
		}
	}
	// The workflows with no schedule now record that none is in use: one put back
	// later is new. Those that had one in the set before, and, on the first set, any
	// whose record says otherwise.
	if s.unrecorded == nil {
		s.unrecorded = map[string]*workflows.Workflow{}
	}
	for _, wf := range set.Workflows() {
		if scheduled[wf.Name] == nil && (!s.loaded || s.scheduled[wf.Name] != nil) {
			s.unrecorded[wf.Name] = wf
		}
	}
	for name, wf := range s.scheduled {
		if set.Workflow(name) == nil {
			s.unrecorded[name] = wf // its file is gone
		}
	}
	var none []*workflows.Workflow
	for name, wf := range s.unrecorded {
		if scheduled[name] != nil {
			delete(s.unrecorded, name) // it has one again: its loop records it
			continue
		}
		none = append(none, wf)
	}
	s.inUse, s.scheduled, s.loaded = inUse, scheduled, true
	s.mu.Unlock()
	useLoops(&s.loops, set, func(ctx context.Context, wf *workflows.Workflow, sch *Schedule) {
		s.run(ctx, wf, sch, added[wf.Name+"\x00"+sch.specKey()], specs[wf.Name])
	}, func(ctx context.Context) { s.noneInUse(ctx, none) })
}

// noneInUse records that no schedule of each of wfs is in use, where a record says
// otherwise, trying again while Redis cannot be reached; what it has not written when
// the next set comes is left to that set's.
func (s *Scheduler) noneInUse(ctx context.Context, wfs []*workflows.Workflow) {
	retry := newBackoff()
	for len(wfs) > 0 {
		if _, _, err := s.ticks.UseSchedules(ctx, wfs[0], nil); err != nil {
			if ctx.Err() != nil {
				return // stopped: the next set's, or the next process's, records it
			}
			s.log.Warn("schedule: cannot record that a workflow has none; retrying", "workflow", wfs[0].Name, "err", err)
			if !sleepCtx(ctx, retry.next()) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.unrecorded[wfs[0].Name] == wfs[0] {
			delete(s.unrecorded, wfs[0].Name)
		}
		s.mu.Unlock()
		wfs = wfs[1:]
	}
}

// specsInUse are the specs of a workflow's schedules in use, recorded in Redis once
// for them all when they start: each schedule records what its siblings do, and
// would read its own record back.
type specsInUse struct {
	specs []string

	mu       sync.Mutex
	recorded bool
	notInUse map[string]bool // of specs: those not in use when they were last recorded
}

// wasNotInUse records the specs in use, the first time it is asked, and reports
// whether spec was not in use when they were last recorded before.
func (u *specsInUse) wasNotInUse(ctx context.Context, ticks Ticks, wf *workflows.Workflow, spec string) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.recorded {
		notInUse, _, err := ticks.UseSchedules(ctx, wf, u.specs)
		if err != nil {
			return false, err
		}
		u.notInUse, u.recorded = notInUse, true
	}
	return u.notInUse[spec], nil
}

// Stop stops every schedule. A tick being started finishes first (or gives up after
// fireTimeout, when Redis does not answer).
func (s *Scheduler) Stop() { s.loops.stop() }

// fireTimeout bounds the start of one tick's run.
const fireTimeout = 5 * time.Second

// maxSkew is how far in the future a claimed tick may be before it is taken for the
// work of a process with a wrong clock.
const maxSkew = time.Minute

// maxSleep bounds a schedule's sleep, so that a change of the wall clock (a correction,
// a suspended machine) is noticed within it.
const maxSleep = time.Minute

// run fires a schedule's ticks until ctx ends. added says a reload added it: the ticks
// it missed, by the last tick Redis keeps of it, are not caught up on; nor are they
// when it was not among its workflow's specs in use when they were last recorded.
func (s *Scheduler) run(ctx context.Context, wf *workflows.Workflow, sch *Schedule, added bool, specs *specsInUse) {
	key := sch.Key()
	retry := newBackoff()
	var last time.Time
	for {
		notInUse, err := specs.wasNotInUse(ctx, s.ticks, wf, sch.specKey())
		if err == nil {
			added = added || notInUse
			last, err = s.ticks.LastTick(ctx, wf, key)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return // stopped
		}
		s.log.Warn("schedule: cannot read its last tick; retrying", "workflow", wf.Name, "schedule", sch.Text(), "err", err)
		if !sleepCtx(ctx, retry.next()) {
			return
		}
	}
	if now := s.now(); last.After(now.Add(maxSkew)) {
		s.log.Warn("schedule: its last tick is in the future; a process's clock is wrong, check NTP",
			"workflow", wf.Name, "schedule", sch.Text(), "last_tick", last, "now", now)
		last = now
	}
	if added {
		// Taken as fired, in Redis too, so that a process that did not see the reload
		// (one starting meanwhile) does not catch up on it either: the next is the first.
		if tick, _ := sch.Due(last, s.now()); !tick.IsZero() {
			ctx, cancel := context.WithTimeout(ctx, fireTimeout)
			if _, err := s.ticks.ClaimTick(ctx, wf, key, tick); err != nil {
				s.log.Warn("schedule: cannot record that it catches up on nothing; this process does not", "workflow", wf.Name,
					"schedule", sch.Text(), "err", err)
			}
			cancel()
			last = tick
		}
	}
	retry = newBackoff()
	for {
		now := s.now()
		tick, late := sch.Due(last, now)
		if tick.IsZero() {
			wait := maxSleep
			if next := sch.Next(now); !next.IsZero() {
				wait = min(next.Sub(now), maxSleep)
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		if err := s.fire(wf, sch, tick, late); err != nil {
			s.log.Warn("schedule: cannot start its run; trying the tick again with backoff, or the next tick instead if it comes first",
				"workflow", wf.Name, "schedule", sch.Text(), "scheduled_at", tick, "err", err)
			// Tried again with backoff, and at the next tick at the latest, which is
			// fired instead: a Redis back before the backoff ends misses no more ticks.
			wait := retry.next()
			if now := s.now(); !sch.Next(now).IsZero() {
				wait = min(wait, sch.Next(now).Sub(now))
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		retry = newBackoff()
		last = tick
	}
}

// fire starts the run of a tick, unless a process started it, or a later one, already.
func (s *Scheduler) fire(wf *workflows.Workflow, sch *Schedule, tick time.Time, late bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), fireTimeout)
	defer cancel()
	ev := sch.TickEvent(tick, late, s.now())
	runID, first, err := s.ticks.StartTick(ctx, wf, ev, sch.Key(), tick)
	if err != nil {
		return err
	}
	if first {
		s.metrics.Received(wf.Name, "schedule")
		s.log.Info("schedule fired", "workflow", wf.Name, "run", runID, "scheduled_at", ev.Body.(map[string]any)["scheduled_at"], "catch_up", late)
	}
	return nil
}

// TickEvent is the event of the run of a tick: event.body says which schedule, the
// tick's time in the schedule's time zone, and whether it is a catch-up. now is when
// it is fired.
func (s *Schedule) TickEvent(tick time.Time, late bool, now time.Time) *workflows.Event {
	// With its fraction of a second, when it has one (every = "1500ms"): two ticks
	// read the same time otherwise.
	at := tick.In(s.Location).Format(time.RFC3339Nano)
	// The schedule as the file writes it (Text), not its Key: "every 1h", not "every
	// 1h0m0s". The tick's identity in Redis is the Key, given to StartTick apart.
	body := map[string]any{"schedule": s.Text(), "scheduled_at": at, "catch_up": late}
	raw, _ := json.Marshal(body) // the run's record keeps the raw body and parses it again
	return &workflows.Event{
		ID:          id.New(),
		Trigger:     "schedule",
		ReceivedAt:  now.UTC(),
		ContentType: "application/json",
		Raw:         string(raw),
		Body:        body,
	}
}

// backoff is a doubling wait, from a second to half a minute.
type backoff struct{ wait time.Duration }

func newBackoff() *backoff { return &backoff{wait: time.Second} }

func (b *backoff) next() time.Duration {
	d := b.wait
	b.wait = min(2*b.wait, 30*time.Second)
	return d
}

// sleepCtx sleeps for d, or until ctx ends; it reports false then.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
