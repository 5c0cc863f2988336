package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// report is everything a run measured; a part is nil when it was not measured.
type report struct {
	Interrupted bool        `json:"interrupted,omitempty"`
	Generator   *genReport  `json:"generator,omitempty"`
	Sink        *sinkReport `json:"sink,omitempty"`
	Process     *procReport `json:"process,omitempty"`
	Hookbench   *cpuUse     `json:"hookbench_cpu,omitempty"` // this process, over the window
}

func (r report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Interrupted && r.Generator != nil {
		fmt.Fprintln(tw, "interrupted: the figures cover the run until then")
	}
	if g := r.Generator; g != nil {
		writeGenerator(tw, g)
	}
	if s := r.Sink; s != nil {
		writeSink(tw, s)
	}
	if p := r.Process; p != nil {
		fmt.Fprintf(tw, "process %d\n", p.PID)
		fmt.Fprintf(tw, "  peak RSS\t%.1f MB\n", p.PeakRSSMB)
		fmt.Fprintf(tw, "  CPU in window\t%s\n", formatCPU(p.Window))
		if p.Idle != nil {
			fmt.Fprintf(tw, "  CPU idle\t%s, after the drain\n", formatCPU(*p.Idle))
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "  error\t%s\n", p.Error)
		}
	}
	if h := r.Hookbench; h != nil {
		fmt.Fprintf(tw, "hookbench CPU\t%s\n", formatCPU(*h))
	}
	return tw.Flush()
}

func writeGenerator(w io.Writer, g *genReport) {
	mode := "closed loop"
	if g.Mode == "open" {
		mode = fmt.Sprintf("open loop at %s/s", strconv.FormatFloat(g.Rate, 'f', -1, 64))
	}
	fmt.Fprintf(w, "target %s\n", g.Target)
	fmt.Fprintf(w, "  mode\t%s, %d conns, window %.2fs after %gs warmup (%d sent then)\n",
		mode, g.Conns, g.WindowS, g.WarmupS, g.WarmupSent)
	fmt.Fprintf(w, "  sent\t%d\t%.1f/s\n", g.Sent, g.SentPerSec)
	if g.Missed > 0 {
		fmt.Fprintf(w, "  MISSED\t%d\tdue in the window but never sent: every connection was busy, the target fell behind the rate (lower --rate, or find its maximum with --rate 0)\n", g.Missed)
	}
	fmt.Fprintf(w, "  accepted (2xx)\t%d\t%.1f/s\n", g.Accepted, g.AcceptedPerSec)
	fmt.Fprintf(w, "  statuses\t%s\n", formatCounts(g.Statuses))
	fmt.Fprintf(w, "  non-2xx\t%s\n", formatCounts(g.Non2xx))
	fmt.Fprintf(w, "  transport errors\t%d\n", g.Errors)
	for _, msg := range slices.Sorted(maps.Keys(g.ErrorSamples)) {
		fmt.Fprintf(w, "  \t%d × %s\n", g.ErrorSamples[msg], msg)
	}
	fmt.Fprintf(w, "  accept latency\t%s\n", formatLatency(g.Latency))
}

func writeSink(w io.Writer, s *sinkReport) {
	fmt.Fprintf(w, "sink %s\n", s.Addr)
	fmt.Fprintf(w, "  delivered\t%d\t%.1f/s over %.2fs, first to last\n", s.Delivered, s.DeliveredPerSec, s.SpanS)
	if d := s.Drain; d != nil {
		var verdict string
		switch {
		case !d.Complete:
			verdict = "INCOMPLETE when the drain ended: a path is missing deliveries (see unique below)"
		case d.ExpectedPerPath == 0:
			verdict = "none awaited: no request was answered 202"
		case d.LastAfterWindowS <= 0:
			verdict = "all arrived before the window ended"
		default:
			verdict = fmt.Sprintf("all arrived, the last %.2fs after the window ended", d.LastAfterWindowS)
		}
		fmt.Fprintf(w, "  expected\t%d per path\t%s\n", d.ExpectedPerPath, verdict)
		fmt.Fprintf(w, "  outside window\t%d\n", s.OutsideWindow)
	}
	fmt.Fprintf(w, "  repeats\t%d\n", s.Repeats)
	if s.WithoutSentNS > 0 {
		fmt.Fprintf(w, "  without sent_ns\t%d\n", s.WithoutSentNS)
	}
	fmt.Fprintf(w, "  e2e latency\t%s\n", formatLatency(s.E2E))
	for _, p := range s.Paths {
		fmt.Fprintf(w, "  %s\t%d\t%.1f/s, %d unique, e2e %s\n", p.Path, p.Delivered, p.DeliveredPerSec, p.Unique, formatLatency(p.E2E))
	}
}

func formatCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func formatLatency(l latencySummary) string {
	if l.Count == 0 {
		return "none recorded"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", formatMS(l.P50), formatMS(l.P90), formatMS(l.P99), formatMS(l.Max))
}

// formatMS shows milliseconds to about three significant digits.
func formatMS(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

func formatCPU(u cpuUse) string {
	return fmt.Sprintf("%.2fs CPU over %.2fs = %.2f cores", u.CPUS, u.WallS, u.Cores)
}

// floorReport is a run with --floor: the floor relay's report, the target's, and the
// target's figure as a ratio of the floor's; with --floor-apart, the floor's report in
// a process of its own too, and with --floor-reliable, the reliable floor's in the
// same places, each with the target's ratio to it.
type floorReport struct {
	Floor              report   `json:"floor"`
	Apart              *report  `json:"floor_apart,omitempty"`
	Reliable           *report  `json:"floor_reliable,omitempty"`
	ReliableApart      *report  `json:"floor_reliable_apart,omitempty"`
	Target             report   `json:"target"`
	Ratio              *float64 `json:"ratio_to_floor,omitempty"` // each when the target and its floor ran
	RatioApart         *float64 `json:"ratio_to_floor_apart,omitempty"`
	RatioReliable      *float64 `json:"ratio_to_floor_reliable,omitempty"`
	RatioReliableApart *float64 `json:"ratio_to_floor_reliable_apart,omitempty"`
}

func (r floorReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	floors := []struct {
		title string
		run   *report
		ratio *float64
		name  string
	}{
		{"the floor: a bare Go relay through a Redis list (LPUSH, BRPOP) in hookbench's process, same Redis and sink",
			&r.Floor, r.Ratio, "the floor"},
		{"the floor in a process of its own, as the target runs", r.Apart, r.RatioApart, "the floor in a process of its own"},
		{"the reliable floor: the bare relay keeping each webhook in Redis until the sink took it (LPUSH, BLMOVE to the worker's list, LREM), in hookbench's process",
			r.Reliable, r.RatioReliable, "the reliable floor"},
		{"the reliable floor in a process of its own", r.ReliableApart, r.RatioReliableApart, "the reliable floor in a process of its own"},
	}
	for _, f := range floors {
		if f.run == nil {
			continue
		}
		fmt.Fprintf(w, "== %s\n", f.title)
		if err := f.run.write(w, false); err != nil {
			return err
		}
	}
	if r.Target.Generator == nil {
		fmt.Fprintln(w, "== the target: not run, the run was interrupted before it")
		return nil
	}
	fmt.Fprintln(w, "== the target")
	if err := r.Target.write(w, false); err != nil {
		return err
	}
	for i, f := range floors {
		if f.ratio == nil {
			continue
		}
		note := ""
		if i == 0 {
			note = " (deliveries per second; accepted per second without a sink)"
		}
		fmt.Fprintf(w, "ratio to %s\t%.2f%s\n", f.name, *f.ratio, note)
	}
	return nil
}
