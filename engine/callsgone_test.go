package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

const callsGoneSrc = `
workflow "child" {
  step "probe" "ask" {
    value = "approve at {{ resume_url('cw') }}"
  }
  step "wait" "cw" {
    timeout = "1h"
  }
}
workflow "parent" {
  timeout = "3s"
  step "workflow" "kid" {
    FOREACH
    workflow = "child"
  }
}
`

// A parent whose timeout cancelled its children, whose workflow is then taken out of
// the files, is not said to call a gone workflow (calls_gone): its replay runs each
// cancelled child again from its own version, and the parent succeeds once they do,
// whether the step is one workflow step or a for_each of them.
func TestCallsGoneLeavesOutChildrenThatStarted(t *testing.T) {
	for _, fe := range []string{"", `for_each = "event.body.items"`} {
		t.Run("for_each="+fe, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				ctx := context.Background()
				k := probeKinds(&recorder{})
				actions.Register(k, actions.Options{Logger: quiet})
				set := loadSetWith(t, k, strings.Replace(callsGoneSrc, "FOREACH", fe, 1))
				e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, ResumeBase: "https://hooks.example.com/resume/"})
				e.Use(set)
				startPool(t, e, 1)
				id, err := e.Start(ctx, set.Workflow("parent"), event(`{"items": [1]}`))
				if err != nil {
					t.Fatal(err)
				}
				waitStatus(t, e, id, RunFailed)
				child := id + ":kid"
				if fe != "" {
					child += ":0"
				}
				token := tokenOf(t, waitStatus(t, e, child, RunCancelled))
				e.Use(loadSetWith(t, k, "workflow \"parent\" {\n  step \"probe\" \"kid\" {\n    value = \"x\"\n  }\n}\n"))
				r, err := e.Run(ctx, id)
				if err != nil || len(r.CallsGone) != 0 {
					t.Fatalf("calls_gone %v (%v), want none: the child started", r.CallsGone, err)
				}
				if _, err := e.Replay(ctx, id, ReplayOptions{}); err != nil {
					t.Fatalf("the replay: %v", err)
				}
				testutil.Eventually(t, 10*time.Second, "the child waiting again", func() bool {
					c, err := e.Run(ctx, child)
					return err == nil && c.Status == RunWaiting
				})
				if _, err := e.ResumeToken(ctx, token, resumeRequest(t, `{"ok": "yes"}`)); err != nil {
					t.Fatal(err)
				}
				waitStatus(t, e, id, RunSucceeded)
			})
		})
	}
}
