package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// movedSrc fails at b, after its parallel block p succeeded; itemsSrc fails at the
// second item of its for_each step, after p.
const movedSrc = `
workflow "moved" {
  parallel "p" {
    step "http" "p1" {
      url = "URL/p1"
    }
    step "http" "p2" {
      url = "URL/p2"
    }
    step "http" "lines" {
      for_each = "event.body.lines"
      url      = "URL/line/{{ each.key }}"
    }
  }
  step "http" "b" {
    url = "URL/b"
  }
  step "http" "z" {
    url = "URL/z"
  }
}
`

const itemsSrc = `
workflow "moved" {
  parallel "p" {
    step "http" "p1" {
      url = "URL/p1"
    }
    step "http" "p2" {
      url = "URL/p2"
    }
  }
  step "http" "b" {
    for_each = "event.body.lines"
    url      = "URL/b/{{ each.key }}"
  }
}
`

// A replay on the version in use runs a failed step that version moved into a
// parallel block the run had passed, with the steps of the block that never ran; the
// steps of the block that succeeded are not called again, and the steps after the
// block run after it, as the current version has them.
func TestReplayOnTheCurrentVersionRunsAStepMovedIntoABlock(t *testing.T) {
	for _, tt := range []struct {
		name    string
		src     string // the version the run starts with
		fail    string // the path answered 400 until the replay
		current string
		from    string         // the units the replay queues
		calls   map[string]int // the calls of both runs
		steps   string         // the steps of the replayed run, as runs show them
	}{
		{
			name: "with a new step, and one moved out",
			src:  movedSrc,
			fail: "/b",
			current: `
workflow "moved" {
  step "http" "p1" {
    url = "URL/p1"
  }
  parallel "p" {
    step "http" "b" {
      url = "URL/b"
    }
    step "http" "p2" {
      url = "URL/p2"
    }
    step "http" "p3" {
      url = "URL/p3"
    }
    step "http" "lines" {
      for_each = "event.body.lines"
      url      = "URL/line/{{ each.key }}"
    }
  }
  step "http" "z" {
    url  = "URL/z"
    json = { p3 = "{{ steps.p3.status }}" }
  }
}
`,
			from:  "[p/b p/p3]",
			calls: map[string]int{"/p1": 1, "/p2": 1, "/line/0": 1, "/line/1": 1, "/b": 2, "/p3": 1, "/z": 1},
			steps: "[p1 succeeded p succeeded p/b succeeded p/p2 succeeded p/p3 succeeded p/lines succeeded z succeeded]",
		},
		{
			name: "at the end of the block, with nothing after it",
			src:  movedSrc,
			fail: "/b",
			current: `
workflow "moved" {
  parallel "p" {
    step "http" "p1" {
      url = "URL/p1"
    }
    step "http" "p2" {
      url = "URL/p2"
    }
    step "http" "lines" {
      for_each = "event.body.lines"
      url      = "URL/line/{{ each.key }}"
    }
    step "http" "b" {
      url = "URL/b"
    }
  }
}
`,
			from:  "[p/b]",
			calls: map[string]int{"/p1": 1, "/p2": 1, "/line/0": 1, "/line/1": 1, "/b": 2},
			steps: "[p succeeded p/p1 succeeded p/p2 succeeded p/lines succeeded p/b succeeded]",
		},
		{
			name: "a for_each step's failed item",
			src:  itemsSrc,
			fail: "/b/1",
			current: `
workflow "moved" {
  parallel "p" {
    step "http" "p1" {
      url = "URL/p1"
    }
    step "http" "b" {
      for_each = "event.body.lines"
      url      = "URL/b/{{ each.key }}"
    }
    step "http" "p2" {
      url = "URL/p2"
    }
  }
  step "http" "z" {
    url  = "URL/z"
    json = { p3 = "{{ steps.p2.status }}" }
  }
}
`,
			from:  "[p/b[1]]",
			calls: map[string]int{"/p1": 1, "/p2": 1, "/b/0": 1, "/b/1": 2, "/z": 1},
			steps: "[p succeeded p/p1 succeeded p/b succeeded p/p2 succeeded z succeeded]",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				ctx := context.Background()
				tg := newTarget(t, 0)
				tg.failPath(tt.fail, http.StatusBadRequest)
				e, v1 := httpEngine(t, b, strings.ReplaceAll(tt.src, "URL", tg.srv.URL))
				id, err := e.Start(ctx, v1.Workflow("moved"), event(`{"lines": [1, 2]}`))
				if err != nil {
					t.Fatal(err)
				}
				if r := waitRun(t, e, id); r.Status != RunFailed || !strings.Contains(r.DeadLetter, ":b") {
					t.Fatalf("run %+v, want failed at b", r.RunSummary)
				}
				tg.failPath(tt.fail, 0)
				e.Use(httpSet(t, strings.ReplaceAll(tt.current, "URL", tg.srv.URL)))
				again, err := e.Replay(ctx, id, ReplayOptions{Current: true})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(again.From) != tt.from {
					t.Errorf("replay from %v, want %s", again.From, tt.from)
				}
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("replayed run %+v", r.RunSummary)
				}
				var got []string
				for _, s := range r.Steps {
					got = append(got, s.Path+" "+string(s.Status))
				}
				if fmt.Sprint(got) != tt.steps {
					t.Errorf("steps %v, want %s", got, tt.steps)
				}
				if got := tg.paths(); fmt.Sprint(got) != fmt.Sprint(tt.calls) {
					t.Errorf("calls %v, want %v", got, tt.calls)
				}
				for _, c := range tg.list() {
					if c.path == "/z" && c.body != `{"p3":200}` {
						t.Errorf("z was sent %s, want p3's status", c.body)
					}
				}
			})
		})
	}
}
