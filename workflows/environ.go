package workflows

import (
	"os"
	"sort"
)

// EnvValue is a value env() read from the environment where hookflow test reads
// another: under Options.Hermetic, env() reads its default, or without one the
// placeholder https://unset.invalid/NAME. A run served with the variable set sends
// Value where a test of it sends Test.
type EnvValue struct {
	Name  string
	Value string // read from the environment
	Test  string // read by hookflow test
}

// EnvValues lists what env() read from the environment and hookflow test reads
// otherwise, longest Value first, each pair once.
func (s *Set) EnvValues() []EnvValue { return s.env }

// environ is the environment env() and secret() read when the files load.
type environ struct {
	lookup func(name string) (string, bool)
	read   map[EnvValue]bool // every env() that read a value hookflow test would not
}

func newEnviron(hermetic bool) *environ {
	e := &environ{lookup: os.LookupEnv, read: map[EnvValue]bool{}}
	if hermetic {
		e.lookup = func(string) (string, bool) { return "", false }
	}
	return e
}

// note records that env() read value for name where hookflow test reads test.
func (e *environ) note(name, value, test string) {
	if value != test {
		e.read[EnvValue{Name: name, Value: value, Test: test}] = true
	}
}

// values lists what note recorded, longest Value first (a value holding another is
// then replaced whole), then by name.
func (e *environ) values() []EnvValue {
	out := make([]EnvValue, 0, len(e.read))
	for v := range e.read {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Value) != len(out[j].Value) {
			return len(out[i].Value) > len(out[j].Value)
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Test < out[j].Test
	})
	return out
}
