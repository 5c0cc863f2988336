package workflows_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// FuzzLoad feeds the loader arbitrary files, seeded with every golden mistake and
// every example. Loading must never panic or hang; run it with
// go test ./workflows -run XXX -fuzz FuzzLoad -fuzztime 1m.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.hcl"))
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*.hcl"))
	for _, p := range append(seeds, examples...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	k := realKinds()
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			srcs := []workflows.Source{{Name: "fuzz.hcl", Data: data}}
			set, diags := workflows.Load(srcs, k)
			if set == nil && !diags.HasErrors() {
				t.Error("no set and no error")
			}
			_ = workflows.WriteDiagnostics(discard{}, srcs, diags)
			_, _ = workflows.Format(data, "fuzz.hcl")
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second): // a hang, not a benchmark: loading a file takes milliseconds
			t.Fatalf("loading took over 5s: %q", data)
		}
	})
}

// FuzzParseBody feeds webhook body parsing arbitrary bodies and content types.
func FuzzParseBody(f *testing.F) {
	f.Add("application/json", []byte(`{"a": [1, 2.5, "x", null, {"b": true}]}`))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&a=2&b=%20"))
	f.Add("", []byte(`[[[[1]]]]`))
	f.Add("text/plain", []byte("hello"))
	f.Add("application/json", []byte(`{"n": 1e400}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		_, _ = workflows.ParseBody(contentType, body)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
