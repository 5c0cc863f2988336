package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// hookflow run builds resume URLs as serve does: on --public-url, else on the port of
// --listen, each also read from HOOKFLOW_PUBLIC_URL and HOOKFLOW_LISTEN.
func TestRunResumeURLBase(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), approvalSrc)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"default", nil, nil, "http://localhost:8080/resume/"},
		{"--listen", nil, []string{"--listen", "127.0.0.1:9090"}, "http://localhost:9090/resume/"},
		{"HOOKFLOW_LISTEN", map[string]string{"HOOKFLOW_LISTEN": ":9191"}, nil, "http://localhost:9191/resume/"},
		{"HOOKFLOW_PUBLIC_URL", map[string]string{"HOOKFLOW_LISTEN": ":9191", "HOOKFLOW_PUBLIC_URL": "https://hooks.example.com/"}, nil, "https://hooks.example.com/resume/"},
		{"--public-url", nil, []string{"--public-url", "https://flows.example.com"}, "https://flows.example.com/resume/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(append([]string{"run", "--dir", dir, "--dry-run"}, c.args...), "approve"), nil, &stdout, &stderr)
			if err != nil || !strings.Contains(stdout.String(), `"url": "`+c.want) {
				t.Errorf("%v: want a resume URL under %s:\n%s%s", err, c.want, stdout.String(), stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--public-url", "hooks", "approve"}, nil, io.Discard, &stderr)
	if exitStatus(err, &stderr) != 2 || !strings.Contains(stderr.String(), "--public-url") {
		t.Errorf("--public-url that is not a URL: %v\n%s", err, stderr.String())
	}
}
