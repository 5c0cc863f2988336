package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

const decisionSrc = `
workflow "approve" {
  trigger "webhook" {
    path = "/approve"
  }
  step "set" "ask" {
    url = "{{ resume_url('approval') }}"
  }
  step "wait" "approval" {
    timeout = "1h"
  }
  step "set" "done" {
    decision = "{{ steps.approval.query.decision }}"
    tags     = "{{ steps.approval.query.tag }}"
  }
}
`

// --query NAME=VALUE gives a resume its query, read as steps.STEP.query.NAME, as the
// approve/decline links' ?decision= would: through the admin API with hookflow runs
// resume, and in hookflow run, with --resume or without.
func TestResumeQuery(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "approve.hcl"), decisionSrc)

	t.Run("run", func(t *testing.T) {
		for _, args := range [][]string{
			{"--query", "decision=approve", "--query", "tag=a", "--query", "tag=b"},
			{"--resume", "approval={}", "--query", "decision=approve", "--query", "tag=a", "--query", "tag=b"},
		} {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"run", "--dir", dir, "--dry-run", "--json"}, append(args, "approve")...), nil, &stdout, &stderr)
			out := stdout.String()
			if err != nil || !strings.Contains(out, `"decision": "approve"`) || !strings.Contains(out, `"tags": [`) {
				t.Errorf("run %v: %v\n%s%s", args, err, out, stderr.String())
			}
		}
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"run", "--dir", dir, "--dry-run", "--query", "decision", "approve"}, nil, io.Discard, &stderr)
		if exitStatus(err, &stderr) != 2 || !strings.Contains(stderr.String(), `--query "decision": write it as NAME=VALUE`) {
			t.Errorf("--query without a value: %v\n%s", err, stderr.String())
		}
	})

	t.Run("runs resume", func(t *testing.T) {
		s := serveDir(t, dir, "", "127.0.0.1:0")
		id, _ := waitingRun(t, s)
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"runs", "resume", id, "approval", "--query", "decision=decline", "--query", "tag=x y",
			"--admin", s.adminAddr}, nil, &stdout, io.Discard)
		if err != nil || !strings.Contains(stdout.String(), "run "+id+" resumed at step approval") {
			t.Fatalf("runs resume --query: %v\n%s", err, stdout.String())
		}
		done := waitRun(t, statusURL(s, id))
		if out := stepNamed(t, done, "done")["output"].(map[string]any); out["decision"] != "decline" || out["tags"] != "x y" {
			t.Errorf("done: %v", out)
		}
	})
}
