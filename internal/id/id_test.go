package id

import (
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 10000 {
		s := New()
		if len(s) != 26 || strings.Trim(s, alphabet) != "" {
			t.Fatalf("malformed id %q", s)
		}
		if seen[s] {
			t.Fatalf("duplicate id %q", s)
		}
		seen[s] = true
		// Ids from different milliseconds sort by time.
		if i%1000 == 0 {
			if prev != "" && s[:10] < prev[:10] {
				t.Errorf("%q sorts before the earlier %q", s, prev)
			}
			prev = s
			time.Sleep(time.Millisecond) // the next batch is in a later millisecond
		}
	}
}
