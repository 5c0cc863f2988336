package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

const examples = "../../examples"

// TestExamplesLoad loads every example directory with every real kind registered.
func TestExamplesLoad(t *testing.T) {
	setExampleEnv(t)
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			var stderr strings.Builder
			set, warnings := load(filepath.Join(examples, e.Name()), kinds(nil, nil), &stderr)
			if set == nil || warnings > 0 {
				t.Fatalf("does not load cleanly:\n%s", stderr.String())
			}
			if len(set.Workflows()) == 0 {
				t.Error("no workflows")
			}
			srcs, _ := workflows.ReadDir(filepath.Join(examples, e.Name()))
			for _, src := range srcs {
				if out, _ := workflows.Format(src.Data, src.Name); !bytes.Equal(out, src.Data) {
					t.Errorf("%s is not formatted; run hookflow fmt", src.Name)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
	// Names and paths do not clash: `hookflow serve examples` serves them all.
	var stderr strings.Builder
	if set, warnings := load(examples, kinds(nil, nil), &stderr); set == nil || warnings > 0 {
		t.Errorf("the examples do not load together:\n%s", stderr.String())
	}
}

// TestQuickstart runs the README's quick start: the example served with the embedded
// Redis, and the curl it documents.
func TestQuickstart(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("QUICKSTART_HOOKS_URL", "http://"+addr+"/hooks")
	serveDir(t, filepath.Join(examples, "quickstart"), "", addr)

	status, body := postJSON(t, "http://"+addr+"/hooks/hello", `{"name":"Ada"}`)
	if status != 202 {
		t.Fatalf("POST /hooks/hello: %d %v", status, body)
	}
	run := waitRun(t, body["status_url"].(string))
	if run["status"] != "succeeded" {
		t.Fatalf("run %v", run)
	}
	steps := run["steps"].([]any)
	greeting := steps[0].(map[string]any)["output"].(map[string]any)["body"].(map[string]any)
	if greeting["message"] != "Hello, Ada!" || greeting["length"] != 3.0 {
		t.Errorf("step greet was answered %v", greeting)
	}
	said := steps[1].(map[string]any)["output"].(map[string]any)
	if said["message"] != "Hello, Ada! (3 letters)" {
		t.Errorf("step say logged %v", said)
	}

	status, body = postJSON(t, "http://"+addr+"/hooks/hello", `{}`)
	if status != 200 || body["status"] != "filtered" {
		t.Errorf("an event without a name: %d %v", status, body)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
