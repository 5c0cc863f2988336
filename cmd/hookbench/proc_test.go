package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		ok         bool
	}{
		{"plain", "4242 (hookflow) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 125 0 0 20 0 9 0 100 0 0",
			3750 * time.Millisecond, true},
		{"name with spaces and parentheses", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5",
			100 * time.Millisecond, true},
		{"truncated", "7 (x) R 1 7 7", 0, false},
		{"no name", "7 x R", 0, false},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 seven 3 0", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if got != tc.want || (err == nil) != tc.ok {
				t.Errorf("parseStatCPU = %s, %v; want %s, ok %v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\thookflow\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n"
	if got, err := parseStatusRSS([]byte(status)); got != 50<<20 || err != nil {
		t.Errorf("parseStatusRSS = %d, %v; want 50 MiB", got, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tkthreadd\nThreads:\t1\n")); err == nil {
		t.Error("no error without a VmRSS line")
	}
}

func TestReadProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := readProc(os.Getpid()); err != errNoProc {
			t.Errorf("readProc on %s: %v, want errNoProc", runtime.GOOS, err)
		}
		return
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss <= 0 || s.cpu < 0 {
		t.Errorf("sample %+v", s)
	}
}
