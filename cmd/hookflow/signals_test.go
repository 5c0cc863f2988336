package main

import (
	"io"
	"strings"
	"testing"
)

// TestSignalsWatched: the commands that end when their context does keep catching
// SIGINT and SIGTERM (serve and worker drain at the first); the others, which never
// look, leave them their default behaviour, so that the first ends them. (The e2e
// tests send the signals to the built binary.)
func TestSignalsWatched(t *testing.T) {
	root := newRootCommand(strings.NewReader(""), io.Discard, io.Discard)
	want := map[string]bool{
		"serve": true, "worker": true, "run": true, "test": true, "status": true, "workflows": true,
		"runs list": true, "runs show": true, "runs cancel": true, "dlq retry": true,
		"validate": false, "fmt": false, "version": false, "help": false, "completion bash": false,
	}
	for path, w := range want {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil || cmd.Name() != strings.Fields(path)[len(strings.Fields(path))-1] {
			t.Fatalf("%s: %v", path, err)
		}
		if got := watched(cmd); got != w {
			t.Errorf("%s watches for signals: %v, want %v", path, got, w)
		}
	}
}
