package workflows_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/errors/*.txt from the current output")

// realKinds are hookflow's kinds, as a process whose clock reads 21 November 2026
// has them (the year a timezone's offsets are taken from).
func realKinds() *workflows.Kinds {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{})
	triggers.DefaultAt(func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }).Register(k)
	return k
}

// TestGoldenDiagnostics loads each file of testdata/errors, a mistake a user can make,
// and compares the diagnostics exactly as hookflow prints them with the .txt beside
// it. A directory there holds mistakes that take several files, loaded together, as
// serve loads a directory; its .txt is beside it. After a deliberate change,
// regenerate with go test ./workflows -run Golden -update and read the diff.
func TestGoldenDiagnostics(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("only %d golden files", len(files))
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "errors"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			f := filepath.Join("testdata", "errors", e.Name())
			files, dirs[f] = append(files, f), true
		}
	}
	k := realKinds()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hcl")
		t.Run(name, func(t *testing.T) {
			var srcs []workflows.Source
			if dirs[f] {
				var diags hcl.Diagnostics
				if srcs, diags = workflows.ReadDir(f); diags.HasErrors() || len(srcs) < 2 {
					t.Fatalf("a directory of testdata/errors holds the files of one mistake: %v, %d files", diags, len(srcs))
				}
			} else {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				srcs = []workflows.Source{{Name: f, Data: data}}
			}
			for i := range srcs {
				srcs[i].Name = filepath.ToSlash(srcs[i].Name)
			}
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
