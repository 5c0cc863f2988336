package embedredis

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// A pipe lets go of a large buffer once it is read, keeps a small one for the next
// writes, and does not grow past what it already read while a reader lags behind.
func TestPipeBufferMemory(t *testing.T) {
	a, b := newPipe()
	large := bytes.Repeat([]byte("x"), 40<<10)
	if _, err := a.Write(large); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, make([]byte, len(large))); err != nil {
		t.Fatal(err)
	}
	if c := cap(a.out.data); c != 0 {
		t.Errorf("a read 40 KiB buffer is kept: capacity %d", c)
	}

	small := bytes.Repeat([]byte("y"), 1000)
	a.Write(small)
	io.ReadFull(b, make([]byte, len(small)))
	kept := cap(a.out.data)
	if kept == 0 || kept > keptBuffer {
		t.Errorf("a read 1,000-byte buffer: capacity %d, want it kept (at most %d)", kept, keptBuffer)
	}

	// A reader that always lags one write behind: the buffer stays at about two writes.
	chunk := make([]byte, 1000)
	a.Write(chunk)
	for range 1000 {
		a.Write(chunk)
		if _, err := io.ReadFull(b, make([]byte, len(chunk))); err != nil {
			t.Fatal(err)
		}
	}
	if c := cap(a.out.data); c > 4*len(chunk) {
		t.Errorf("after 1,000 writes each read one write late: capacity %d, want about 2 writes", c)
	}
}

// A deadline is kept on the monotonic clock: one made without a monotonic reading (as
// go-redis makes them, with time.Unix) still times a read out when it passes.
func TestPipeDeadlineMonotonic(t *testing.T) {
	_, b := newPipe()
	b.SetReadDeadline(time.Unix(0, time.Now().Add(20*time.Millisecond).UnixNano()))
	if b.in.deadline.Equal(time.Time{}) || b.in.deadline.Round(0) == b.in.deadline {
		t.Fatalf("deadline %v carries no monotonic reading", b.in.deadline)
	}
	start := time.Now()
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("a read past its deadline succeeded")
	}
	if waited := time.Since(start); waited < 15*time.Millisecond {
		t.Fatalf("the read timed out after %v, before its deadline", waited)
	}
}
