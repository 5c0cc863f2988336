package workflows_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/errors/*.txt from the current output")

func realKinds() *workflows.Kinds {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	triggers.Register(k)
	return k
}

// TestGoldenDiagnostics loads each file of testdata/errors, a mistake a user can make,
// and compares the diagnostics exactly as hookflow prints them with the .txt beside
// it. After a deliberate change, regenerate with go test ./workflows -run Golden -update
// and read the diff.
func TestGoldenDiagnostics(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("only %d golden files", len(files))
	}
	k := realKinds()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hcl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			srcs := []workflows.Source{{Name: filepath.ToSlash(f), Data: data}}
			_, diags := workflows.Load(srcs, k)
			if len(diags) == 0 {
				t.Fatal("no diagnostics: the file should hold a mistake")
			}
			var got bytes.Buffer
			if err := workflows.WriteDiagnostics(&got, srcs, diags); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".hcl") + ".txt"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("diagnostics differ from %s (run with -update if the change is meant)\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}
