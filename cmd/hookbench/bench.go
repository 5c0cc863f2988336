package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// runBench runs the generator, and the sink if there is one, through the plan's
// phases: warmup, the measured window, the answers still in flight, the drain (the
// sink waits for the window's deliveries) and, when a process is watched, an idle
// period as long as the drain. An interrupt cuts the phase in progress short and the
// report covers what happened until then. With --floor, the same run is made first
// against the floor relay (and with --floor-apart, against it in a process of its own
// too, and with --floor-reliable, against the reliable floor in the same places), then
// against the target, with the same sink, and the report gives the target's deliveries
// per second as a ratio of each floor's.
func runBench(ctx context.Context, cfg config, stdout io.Writer) error {
	var ss *sinkServer
	if cfg.sink != "" {
		var err error
		if ss, err = startSink(cfg.sink, newSink()); err != nil {
			return err
		}
		defer ss.Stop()
	}
	if cfg.floor == "" {
		return measure(ctx, cfg, cfg.gen.target, ss, true).write(stdout, cfg.json)
	}
	// An interrupt ends the phase in progress and skips the rest: what was measured is
	// reported, and a floor that failed to start or to stop meanwhile is said after it.
	// Without an interrupt, a floor that fails is the run's error.
	fr, floorErr := measureFloor(ctx, cfg, ss, false, false)
	if floorErr != nil && (ctx.Err() == nil || fr.Generator == nil) {
		return floorErr // nothing measured, or no interrupt
	}
	out := floorReport{Floor: fr}
	for _, later := range []struct {
		run, apart, reliable bool
		into                 **report
	}{
		{cfg.floorApart, true, false, &out.Apart},
		{cfg.floorReliable, false, true, &out.Reliable},
		{cfg.floorReliable && cfg.floorApart, true, true, &out.ReliableApart},
	} {
		if !later.run || ctx.Err() != nil {
			continue
		}
		r, err := measureFloor(ctx, cfg, ss, later.apart, later.reliable)
		if err != nil && ctx.Err() == nil {
			return err
		}
		floorErr = errors.Join(floorErr, err)
		if r.Generator != nil { // it started
			*later.into = &r
		}
	}
	if ctx.Err() == nil {
		out.Target = measure(ctx, cfg, cfg.gen.target, ss, true)
	}
	if out.Target.Generator != nil {
		out.Ratio = ratioTo(out.Target, &fr)
		out.RatioApart = ratioTo(out.Target, out.Apart)
		out.RatioReliable = ratioTo(out.Target, out.Reliable)
		out.RatioReliableApart = ratioTo(out.Target, out.ReliableApart)
	}
	return errors.Join(out.write(stdout, cfg.json), floorErr)
}

// floorStarted is called with the floor's process once it listens (0 for a floor in
// hookbench's process), and whether it is the reliable floor: a test's hook.
var floorStarted = func(pid int, reliable bool) {}

// measureFloor makes the run against the floor relay, or the reliable floor, in
// hookbench's process or, apart, in one of its own, watched as the target is. The
// report is the run's even when the floor then fails to stop, with the error.
func measureFloor(ctx context.Context, cfg config, ss *sinkServer, apart, reliable bool) (report, error) {
	fc := cfg
	fc.expectPaths = 1
	var f interface {
		URL() string
		Stop() error
	}
	name := "the floor relay"
	if reliable {
		name = "the reliable floor"
	}
	watched, pid := false, 0
	if apart {
		af, err := startApartFloor(cfg.floor, ss.Addr(), reliable)
		if err != nil {
			return report{}, fmt.Errorf("%s: %w", name, err)
		}
		f, pid = af, af.PID()
		if cfg.watchPID != 0 {
			fc.watchPID, watched = pid, true
		}
	} else {
		bf, err := startFloor(cfg.floor, ss.Addr(), reliable)
		if err != nil {
			return report{}, fmt.Errorf("%s: %w", name, err)
		}
		f = bf
	}
	floorStarted(pid, reliable)
	r := measure(ctx, fc, f.URL(), ss, watched)
	if err := f.Stop(); err != nil {
		return r, fmt.Errorf("stopping %s: %w", name, err)
	}
	return r, nil
}

// measure makes one run against target; watch says whether --watch-pid applies.
func measure(ctx context.Context, cfg config, target string, ss *sinkServer, watched bool) report {
	var sk *sink
	if ss != nil {
		sk = newSink()
		ss.use(sk)
	}
	var watch *procWatcher
	if cfg.watchPID != 0 && watched {
		watch = newProcWatcher(cfg.watchPID, 100*time.Millisecond)
		watch.Start()
	}

	gc := cfg.gen
	gc.target = target
	gen := newGenerator(gc)
	p := newPlan(time.Now(), cfg.gen.warmup, cfg.gen.duration)
	if sk != nil {
		sk.SetWindow(p.windowStart, p.windowEnd)
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		gen.Run(ctx, p)
	}()
	waitUntil(ctx, p.windowStart)
	start := sample(watch)
	waitUntil(ctx, p.windowEnd)
	end := sample(watch)
	<-sent

	window := max(min(end.at.Sub(p.windowStart), p.windowEnd.Sub(p.windowStart)), 0)
	gr := gen.Report(window)
	r := report{Interrupted: ctx.Err() != nil, Generator: &gr}
	if sk != nil {
		r.Sink = drain(ctx, sk, ss.Addr(), gen.Status(202), cfg)
	}
	if watch != nil {
		r.Process = watchIdle(ctx, watch, start, end, cfg.drain)
	}
	if start.selfOK && end.selfOK {
		self := cpuBetween(start.self, end.self)
		r.Hookbench = &self
	}
	return r
}

// ratioTo is the target's ratio to floor, nil when floor did not run.
func ratioTo(target report, floor *report) *float64 {
	if floor == nil {
		return nil
	}
	r := ratio(target, *floor)
	return &r
}

// ratio is the target's deliveries per second over the floor's (accepted per second
// without a sink); 0 when either is missing.
func ratio(target, floor report) float64 {
	rate := func(r report) float64 {
		switch {
		case r.Sink != nil:
			return r.Sink.DeliveredPerSec
		case r.Generator != nil:
			return r.Generator.AcceptedPerSec
		}
		return 0
	}
	if f := rate(floor); f > 0 {
		return rate(target) / f
	}
	return 0
}

// drain waits for the deliveries of the want requests answered 202 in the window, on
// each of the paths they reach, and reports the sink.
func drain(ctx context.Context, sk *sink, addr string, want uint64, cfg config) *sinkReport {
	complete := sk.Wait(ctx, want, cfg.expectPaths, cfg.drain)
	r := sk.Report(addr)
	r.Drain = &drainReport{ExpectedPerPath: want, Complete: complete, LastAfterWindowS: sk.SinceWindow().Seconds()}
	return &r
}

// watchIdle measures the watched process's CPU over idle (the deliveries are in,
// nothing is sent), stops the watcher and reports the process.
func watchIdle(ctx context.Context, watch *procWatcher, start, end meterSample, idle time.Duration) *procReport {
	r := &procReport{PID: watch.pid, Window: cpuBetween(start.watched, end.watched)}
	if ctx.Err() == nil {
		before := sample(watch)
		waitUntil(ctx, time.Now().Add(idle))
		use := cpuBetween(before.watched, sample(watch).watched)
		r.Idle = &use
	}
	watch.Stop()
	peak, err := watch.Peak()
	r.PeakRSSMB = megabytes(peak)
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// waitUntil returns at t, or sooner if ctx is done.
func waitUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// meterSample is the watched process, if any, and hookbench itself at a moment.
type meterSample struct {
	at      time.Time
	watched procSample
	self    procSample
	selfOK  bool // false where /proc is not there
}

func sample(watch *procWatcher) meterSample {
	s := meterSample{at: time.Now()}
	if watch != nil {
		s.watched, _ = watch.Sample() // a failure is kept by the watcher and reported
	}
	self, err := readProc(os.Getpid())
	s.self, s.selfOK = self, err == nil
	return s
}

// runSinkOnly runs the sink until ctx is done, printing deliveries each second (to
// stderr with --json, so that stdout holds only the report), then the report.
func runSinkOnly(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	sk := newSink()
	ss, err := startSink(cfg.sink, sk)
	if err != nil {
		return err
	}
	defer ss.Stop()
	progress := stdout
	if cfg.json {
		progress = stderr
	}
	fmt.Fprintf(progress, "hookbench sink on http://%s: counting deliveries until interrupted\n", ss.Addr())
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	start, prev := time.Now(), uint64(0)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-ss.errc:
			return fmt.Errorf("sink: %w", err)
		case now := <-ticker.C:
			n := sk.Delivered()
			fmt.Fprintf(progress, "%6.0fs  %7d delivered/s  total %d  repeats %d\n",
				now.Sub(start).Seconds(), n-prev, n, sk.repeats.Load())
			prev = n
		}
	}
	sr := sk.Report(ss.Addr())
	return report{Interrupted: true, Sink: &sr}.write(stdout, cfg.json)
}
