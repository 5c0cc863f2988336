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

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"01M9156DP4DTY0AXT1N2NVPHCD":             "01m9156dp4dty0axt1n2nvphcd",
		"01M9156DP4DTY0AXT1N2NVPHCD:Invoice:Key": "01m9156dp4dty0axt1n2nvphcd:Invoice:Key", // the step's own case stays
		"01m9156dp4dty0axt1n2nvphcd":             "01m9156dp4dty0axt1n2nvphcd",
		"01M9156DP4DTY0AXT1N2NVPHCU":             "01M9156DP4DTY0AXT1N2NVPHCU", // U is no letter of it
		"01M9156DP4DTY0AXT1N2NVPHCDX":            "01M9156DP4DTY0AXT1N2NVPHCDX",
		"ORDER-1042":                             "ORDER-1042",
		"":                                       "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if s := New(); Normalize(strings.ToUpper(s)) != s {
		t.Errorf("an id in upper case is not its own: %s", s)
	}
}
