package engine

import (
	"strings"
	"testing"
)

// Each script carries the definitions of lib.lua it uses, and those they use, and no
// other.
func TestScriptsCarryWhatTheyUse(t *testing.T) {
	lib := "local A, B = 1, 2\n\n-- f doubles\nlocal function f(x)\n  return 2 * x\nend\n\nlocal function g(x)\n  return f(x) + A\nend\n\nlocal function h()\nend\n\n-- a comment alone"
	got := uses(lib, "return g(1)")
	for _, want := range []string{"local A, B", "-- f doubles\nlocal function f", "local function g"} {
		if !strings.Contains(got, want) {
			t.Errorf("uses lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "function h") || strings.Contains(got, "a comment alone") {
		t.Errorf("uses carries what is not used:\n%s", got)
	}
	if strings.Index(got, "function f") > strings.Index(got, "function g") {
		t.Errorf("not in lib's order:\n%s", got)
	}
}
