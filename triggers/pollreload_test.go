package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// The way out of a poll that fails at max_pages is to raise max_pages: a reload. The
// poll goes on with its streak across it, so the poll after the reload, which reads
// its whole list, logs that it succeeds again and that it read its whole list again,
// and the failures and the cut polls before it are one run of each, warned of once.
func TestPollStreakOutlivesAReload(t *testing.T) {
	b := redistest.Mini(t)
	api := newSinceShop(t, 2)
	src := func(maxPages int) string {
		s := fmt.Sprintf(sincePollSrc, api.srv.URL, 20, fmt.Sprintf("\n    paginate {\n      next      = \"link_next(response)\"\n      max_pages = %d\n    }", maxPages))
		return strings.Replace(s, `every     = "1m"`, `every     = "1s"`, 1)
	}
	e := engine.New(b.Client, engine.Options{Logger: quietLog, Shards: b.Shards})
	var mu sync.Mutex
	runs := map[string]int{}
	var logged testutil.LogBuffer
	p := NewPoller(countingPolls{Engine: e, mu: &mu, runs: runs}, slog.New(slog.NewTextHandler(&logged, nil)))
	defer p.Stop()
	var wf *workflows.Workflow
	use := func(maxPages int) { // as serve's reload does: the engine, then the triggers
		set := loadPolls(t, api.srv.Client(), src(maxPages))
		e.Use(set)
		p.Use(set)
		wf = set.Workflow("orders")
	}
	started := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(runs)
	}
	logs := func(s string) func() bool { return func() bool { return strings.Contains(logged.String(), s) } }

	api.add("ship")
	use(2)
	testutil.Eventually(t, 10*time.Second, "the first poll", func() bool {
		_, found, err := e.PollState(context.Background(), wf, wf.Triggers[0].Config.(*Poll).Key())
		return err == nil && found
	})
	api.add("ship", "ship", "ship", "ship", "ship", "ship")
	testutil.Eventually(t, 10*time.Second, "a poll cut at max_pages", logs("poll read max_pages pages"))
	testutil.Eventually(t, 10*time.Second, "the poll failing at max_pages", logs("raise the paginate block's max_pages"))
	if n := started(); n != 4 {
		t.Errorf("%d runs started by the two pages, want 4", n)
	}

	use(4) // max_pages raised
	testutil.Eventually(t, 10*time.Second, "the poll after max_pages is raised", func() bool { return started() == 6 })
	testutil.Eventually(t, 10*time.Second, "the end of the failures logged", logs("poll succeeds again"))
	testutil.Eventually(t, 10*time.Second, "the end of the cut polls logged", logs("poll read its whole list again"))
	text := logged.String()
	for what, n := range map[string]int{"poll read max_pages pages": 1, "poll failed": 1, "poll succeeds again": 1, "poll read its whole list again": 1} {
		if got := strings.Count(text, what); got != n {
			t.Errorf("%q logged %d times, want %d:\n%s", what, got, n, text)
		}
	}
}

// A reload keeps the streak of each poll trigger still there: with its wait after
// failures when its workflow is the same, without it when its workflow changed (the
// change may be its fix). Two poll triggers of one workflow have a streak each; a poll
// trigger that asks for other items starts a new one.
func TestPollStreaksAcrossReloads(t *testing.T) {
	api := newSinceShop(t, 0)
	src := func(note string) string {
		return fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "%[1]s/orders"
    items = "response.body.orders"
    key   = "item.id"
  }
  trigger "poll" {
    every = "5m"
    url   = "%[1]s/orders?status=paid"
    items = "response.body.orders"
    key   = "item.id"
  }
  step "log" "it" {
    message = "%[2]s"
  }
}
workflow "other" {
  trigger "poll" {
    every = "1m"
    url   = "%[1]s/other"
    items = "response.body.orders"
    key   = "item.id"
  }
}
`, api.srv.URL, note)
	}
	p := NewPoller(nil, quietLog)
	streaks := func(set *workflows.Set) []*streak {
		p.keepStreaks(set)
		var out []*streak
		for _, name := range []string{"orders", "other"} {
			for _, tr := range set.Workflow(name).Triggers {
				out = append(out, p.streakOf(tr.Config.(*Poll)))
			}
		}
		return out
	}
	first := streaks(loadPolls(t, api.srv.Client(), src("a")))
	if first[0] == first[1] {
		t.Fatal("two poll triggers of one workflow share a streak")
	}
	wait := time.Now().Add(time.Hour)
	for _, st := range first {
		st.failures, st.cuts, st.retryAt = 3, 2, wait
	}

	same := streaks(loadPolls(t, api.srv.Client(), src("a")))
	for i, st := range same {
		if st != first[i] || st.failures != 3 || st.cuts != 2 || !st.retryAt.Equal(wait) {
			t.Errorf("poll %d reloaded unchanged: %+v, want its streak as it was", i, st)
		}
	}
	changed := streaks(loadPolls(t, api.srv.Client(), src("b")))
	for i, st := range changed[:2] {
		if st != first[i] || st.failures != 3 || st.cuts != 2 || !st.retryAt.IsZero() {
			t.Errorf("poll %d of a changed workflow: %+v, want its streak without its wait", i, st)
		}
	}
	if st := changed[2]; !st.retryAt.Equal(wait) {
		t.Errorf("the poll of a workflow the reload did not change lost its wait: %+v", st)
	}
	moved := streaks(loadPolls(t, api.srv.Client(), strings.Replace(src("b"), "/other", "/others", 1)))
	if st := moved[2]; st == first[2] || st.failures != 0 {
		t.Errorf("a poll asking for other items kept the streak of the one before: %+v", st)
	}
}

// A reload that leaves a poll trigger unchanged (it adds a webhook workflow) does not
// cancel the poll under way: it finishes, and the loop goes on polling. A reload that
// changes the poll's workflow cancels it, and so does a stop: a poll cancelled so is
// no failure (not counted, not shown as the poll's error, no wait after it).
func TestPollReloadCancelsOnlyThePollsItChanges(t *testing.T) {
	const webhook = `
workflow "hooks" {
  trigger "webhook" {
    path = "/hooks/x"
  }
}
`
	const step = `
  step "log" "it" {
    message = "changed"
  }
}
`
	for _, c := range []struct {
		name     string
		then     func(p *Poller, e *engine.Engine, use func(string), src string)
		finishes bool
	}{
		{"a reload leaving it unchanged", func(p *Poller, e *engine.Engine, use func(string), src string) { use(src + webhook) }, true},
		{"a reload changing its workflow", func(p *Poller, e *engine.Engine, use func(string), src string) {
			use(strings.TrimSuffix(strings.TrimSpace(src), "}") + step)
		}, false},
		{"a stop", func(p *Poller, e *engine.Engine, use func(string), src string) { p.Stop() }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := redistest.Mini(t)
			api := newHeldAPI(t, 1)
			src := strings.Replace(fmt.Sprintf(heldPollSrc, api.srv.URL), `every    = "1m"`, `every    = "1s"`, 1)
			e := engine.New(b.Client, engine.Options{Logger: quietLog})
			reg := prometheus.NewRegistry()
			var logged testutil.LogBuffer
			p := NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil)), WithMetrics(NewMetrics(reg)))
			defer p.Stop()
			var set *workflows.Set
			use := func(src string) { // as serve's reload does: the engine, then the triggers
				set = loadPolls(t, api.srv.Client(), src)
				e.Use(set)
				p.Use(set)
			}
			use(src)
			wait(t, api.arrived, "the poll's request")
			c.then(p, e, use, src)
			close(api.release)
			wf := set.Workflow("orders")
			key := wf.Triggers[0].Config.(*Poll).Key()
			status := func() *engine.PollStatus {
				st, err := e.TriggerState(context.Background(), wf, key)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := st.(*engine.PollStatus)
				return s
			}
			if c.finishes {
				testutil.Eventually(t, 10*time.Second, "the poll under way finished, and the next polled", func() bool {
					s := status()
					return api.requests() >= 2 && s != nil && s.Started == 0 && s.LastOKAt != nil
				})
			} else {
				testutil.Eventually(t, 10*time.Second, "the poll stopped", func() bool {
					return strings.Contains(logged.String(), "poll stopped") || strings.Contains(logged.String(), "poll failed")
				})
			}
			text := logged.String()
			if strings.Contains(text, "poll failed") {
				t.Errorf("a poll failed:\n%s", text)
			}
			if c.finishes && strings.Contains(text, "poll stopped") {
				t.Errorf("the poll under way was stopped:\n%s", text)
			}
			if s := status(); s != nil && (s.Failures != 0 || s.LastError != "") {
				t.Errorf("the poll's status %+v, want no failure", s)
			}
			if n := metricstest.Series(t, reg, "hookflow_poll_failures_total"); len(n) != 0 {
				t.Errorf("poll failures counted: %v", n)
			}
			if st := p.streakOf(wf.Triggers[0].Config.(*Poll)); st.failures != 0 || !st.retryAt.IsZero() {
				t.Errorf("the poll's streak %+v, want no failure and no wait", st)
			}
		})
	}
}
