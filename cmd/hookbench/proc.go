package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

var errNoProc = errors.New("--watch-pid reads /proc/PID/stat and /proc/PID/status, which only Linux has")

// procSample is a process's CPU time (user + system) and resident memory at a moment.
type procSample struct {
	at  time.Time
	cpu time.Duration
	rss int64 // bytes
}

// readProc samples process pid from /proc.
func readProc(pid int) (procSample, error) {
	if runtime.GOOS != "linux" {
		return procSample{}, errNoProc
	}
	at := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: /proc/%d/stat: %w", pid, pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return procSample{}, fmt.Errorf("process %d: /proc/%d/status: %w", pid, pid, err)
	}
	return procSample{at: at, cpu: cpu, rss: rss}, nil
}

// parseStatCPU returns utime + stime from the content of /proc/PID/stat. The command
// name, in parentheses, may hold spaces and parentheses, so fields are counted from
// the last ")": state is field 3 of the line, utime 14 and stime 15.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no command name")
	}
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusRSS returns VmRSS, in bytes, from the content of /proc/PID/status.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS %q: want a number of kB", bytes.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS line (a kernel thread or a zombie?)")
}

// procWatcher samples a process's resident memory every interval and keeps the peak.
type procWatcher struct {
	pid      int
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu   sync.Mutex
	peak int64
	err  error // the first failed sample
}

func newProcWatcher(pid int, interval time.Duration) *procWatcher {
	return &procWatcher{pid: pid, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
}

func (w *procWatcher) Start() {
	go func() {
		defer close(w.done)
		ticker := time.NewTicker(w.interval)
		defer ticker.Stop()
		for {
			w.Sample()
			select {
			case <-w.stop:
				return
			case <-ticker.C:
			}
		}
	}()
}

func (w *procWatcher) Stop() {
	close(w.stop)
	<-w.done
}

// Sample reads the process now, updating the peak, and returns what it read.
func (w *procWatcher) Sample() (procSample, error) {
	s, err := readProc(w.pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return s, err
	}
	w.peak = max(w.peak, s.rss)
	return s, nil
}

// Peak is the largest resident memory sampled, and the first error, if any.
func (w *procWatcher) Peak() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.err
}

// cpuUse is the CPU a process used over a stretch of wall time.
type cpuUse struct {
	CPUS  float64 `json:"cpu_s"`
	WallS float64 `json:"wall_s"`
	Cores float64 `json:"cores"` // CPUS / WallS: 1 is one core kept busy
}

func cpuBetween(a, b procSample) cpuUse {
	u := cpuUse{CPUS: (b.cpu - a.cpu).Seconds(), WallS: b.at.Sub(a.at).Seconds()}
	if u.WallS > 0 {
		u.Cores = u.CPUS / u.WallS
	}
	return u
}

// procReport is what the report shows of the watched process.
type procReport struct {
	PID       int     `json:"pid"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	Window    cpuUse  `json:"window"`         // over the measured window
	Idle      *cpuUse `json:"idle,omitempty"` // after the last delivery
	Error     string  `json:"error,omitempty"`
}

func megabytes(b int64) float64 { return float64(b) / (1 << 20) }
