package main

import (
	"io"
	"sync"
)

// syncWriter is a log written by hookflow's goroutines and read by the test.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
