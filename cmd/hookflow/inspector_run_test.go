package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/testutil"
)

// exceptions collects the exceptions the page throws and nothing catches, from now
// on, and returns what reads them.
func (b *browse) exceptions() func() []string {
	var mu sync.Mutex
	var got []string
	messages := chromedp.Console(b.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				got = append(got, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// A wait step of an on_failure block is named on_failure/ack, no valid CSS id: its
// resume URL copies all the same, with no exception thrown.
func TestInspectorCopiesAnOnFailureResumeURL(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	t.Setenv("INSPECTOR_API", down.URL)
	s, admin := serveInspector(t, `
workflow "page" {
  step "http" "push" {
    url = env("INSPECTOR_API")
  }
  on_failure {
    step "wait" "ack" {
      timeout = "1h"
    }
  }
}
`)
	status, answer := postJSON(t, admin+"/api/v1/workflows/page/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)

	b := newBrowse(t)
	thrown := b.exceptions()
	b.do("the waiting run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("details.resume-url summary")),
		chromedp.Click(chromedp.CSS("details.resume-url summary")), chromedp.Click(chromedp.CSS("details.resume-url button")))
	// A headless browser may not grant the clipboard: the URL is then selected.
	b.until("the URL copied", `/^(Copied|Selected)/.test(document.getElementById("announce").textContent)`)
	if got := eval[string](b, "the selection", `document.getElementById("announce").textContent == "Copied" ?
		document.querySelector("details.resume-url pre").textContent : getSelection().toString()`); !strings.Contains(got, "/resume/") {
		t.Errorf("copied %q, not the resume URL", got)
	}
	if got := thrown(); len(got) > 0 {
		t.Errorf("the page threw:\n%s", strings.Join(got, "\n"))
	}
}

// A child run's page links to the step of its parent run that started it: the link
// lands on that step's link back to the child, whatever its for_each key holds.
func TestInspectorChildRunLinksToItsParent(t *testing.T) {
	s, admin := serveInspector(t, `
workflow "child" {
  step "log" "c" {
    message = "hi"
  }
}
workflow "parent" {
  step "workflow" "kids" {
    for_each = "event.body.items"
    workflow = "child"
  }
}
`)
	status, answer := postJSON(t, admin+"/api/v1/workflows/parent/runs", `{"items": {"a/b?c#d e": {}}}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunSucceeded)
	child := id + ":kids:a/b?c#d e"

	b := newBrowse(t)
	b.do("the parent", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#run-status")))
	b.do("its child", chromedp.Click(chromedp.CSS(`a[id^="child-"]`)), chromedp.WaitVisible(chromedp.CSS("#parent-run a")))
	if got := eval[string](b, "the child's id", `document.querySelector("h1 .mono").textContent`); got != child {
		t.Errorf("the link opened run %q, want %q", got, child)
	}
	b.do("back to the parent", chromedp.Click(chromedp.CSS("#parent-run a")), chromedp.WaitVisible(chromedp.CSS("#run-status")))
	if got := eval[string](b, "the target", `(document.querySelector(":target") || {}).id || ""`); got != "child-"+strings.ReplaceAll(child, " ", "%20") {
		t.Errorf("the parent's page lands on %q, not on the link to the child", got)
	}
}

// A request's line stays one line on a desktop, however long its URL: the URL is cut
// in the line, and whole in the request under it (as whole as the history keeps it:
// 2 KiB, workflows.MaxRecordedValue).
func TestInspectorRequestLineIsOneLine(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	query := strings.Repeat("abcdefghij", 150)
	s, admin := serveInspector(t, `
workflow "search" {
  step "http" "find" {
    url = "${env("INSPECTOR_API")}/search?q=`+query+`"
  }
}
`)
	status, answer := postJSON(t, admin+"/api/v1/workflows/search/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	b := newBrowse(t)
	b.do("the run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#step-find details.request summary")))
	lines := eval[float64](b, "the line", `(() => {
		const s = document.querySelector("#step-find details.request summary");
		return s.getBoundingClientRect().height / parseFloat(getComputedStyle(s).lineHeight);
	})()`)
	if lines > 1.5 {
		t.Errorf("the request's line is %.1f lines tall", lines)
	}
	b.do("the request", chromedp.Click(chromedp.CSS("#step-find details.request summary")))
	if got := eval[string](b, "the request", `document.querySelector("#step-find .exchange pre").textContent`); !strings.Contains(got, query) {
		t.Errorf("the request under the line lacks its URL's query:\n%.200s", got)
	}
}

// A failed item's stripe and a failed step's duration bar take the colour of its
// status; the run's dead letter links to its row on the dead letters page.
func TestInspectorColoursAndDeadLetterLink(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	s, admin := serveInspector(t, `
workflow "order" {
  step "http" "reserve" {
    for_each = "event.body.skus"
    url      = "${env("INSPECTOR_API")}/stock/{{ each.value }}"
  }
}
`)
	status, answer := postJSON(t, admin+"/api/v1/workflows/order/runs", `{"skus": ["good", "bad"]}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	b := newBrowse(t)
	b.do("the run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS(`[id="step-reserve[1]"]`)))
	const bad, ok = "rgb(179, 38, 30)", "rgb(29, 122, 58)"
	for _, c := range []struct{ what, script, want string }{
		{"the failed item's stripe", `getComputedStyle(document.getElementById("step-reserve[1]")).borderLeftColor`, bad},
		{"the item that succeeded's stripe", `getComputedStyle(document.getElementById("step-reserve[0]")).borderLeftColor`, ok},
	} {
		if got := eval[string](b, c.what, c.script); got != c.want {
			t.Errorf("%s is %s, want %s", c.what, got, c.want)
		}
	}
	// The failed step is the longest: its bar is full, its colour in its middle.
	shot, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS("#step-reserve > meter")))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	mid := img.Bounds().Min.Add(image.Pt(img.Bounds().Dx()/2, img.Bounds().Dy()/2))
	if r, g, bl, _ := img.At(mid.X, mid.Y).RGBA(); fmt.Sprintf("rgb(%d, %d, %d)", r>>8, g>>8, bl>>8) != bad {
		t.Errorf("the failed step's bar is rgb(%d, %d, %d), want %s", r>>8, g>>8, bl>>8, bad)
	}
	b.do("its dead letter", chromedp.Click(chromedp.CSS(`a[href^="/dlq?run="]`)), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	if got := eval[string](b, "the row", `(document.querySelector("tr:target") || {dataset: {}}).dataset.deadLetter || ""`); got != id+":reserve:join" {
		t.Errorf("the dead letter link lands on %q", got)
	}
}

// A run's page the browser shows again from its back-forward cache reads the run
// again: a run retried on the dead letters page, its page left by its dead letter's
// link and come back to, shows the run as it is now, its step's row and all, not as
// it was when left.
func TestInspectorRunPageComeBackToIsCurrent(t *testing.T) {
	var answer atomic.Int32
	answer.Store(http.StatusInternalServerError)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(answer.Load()))
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	s, admin := serveInspector(t, `
workflow "sync" {
  step "http" "push" {
    url = env("INSPECTOR_API")
  }
}
`)
	status, started := postJSON(t, admin+"/api/v1/workflows/sync/runs", `{}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, started)
	}
	id := started["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	answer.Store(http.StatusOK)

	b := newBrowse(t)
	b.do("the failed run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#replay-pinned")),
		chromedp.Evaluate[chromedp.Void](`window.left = true`))
	b.do("its dead letter", chromedp.Click(chromedp.CSS(`a[href^="/dlq?run="]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dead-letters button[data-post$="version=pinned"]`)),
		chromedp.Evaluate[chromedp.Void](acceptConfirms), chromedp.Click(chromedp.CSS(`#dead-letters button[data-post$="version=pinned"]`)))
	b.until("the retry queued", `document.getElementById("action-result").textContent.includes("queued again")`)
	waitEngineRun(t, s.engine, id, engine.RunSucceeded)
	b.do("back to the run", chromedp.Evaluate[chromedp.Void](`history.back()`))
	testutil.Eventually(t, 20*time.Second, "the run's page shown again", func() bool {
		shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!!document.getElementById("run")`))
		return err == nil && shown // an error: the page is being swapped
	})
	if !eval[bool](b, "the page kept", `window.left === true`) {
		t.Fatal("the run's page was loaded again, not shown from the back-forward cache: this test proves nothing")
	}
	// Polled from here: chromedp's Poll does not see a page shown again from the cache.
	testutil.Eventually(t, 20*time.Second, "the run as it is now", func() bool {
		now, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("run-status").textContent === "succeeded" &&
			document.querySelector("#step-push .status").textContent === "succeeded" && !document.getElementById("replay-pinned")`))
		return err == nil && now
	})

	// The run is over now: its page, loaded afresh (one that read itself by script
	// is kept from the cache by its no-store answers), left and come back to, reads the
	// run once, finds it unchanged, and reads it no more.
	b.do("the run over", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#run")),
		chromedp.Evaluate[chromedp.Void](`(() => {
			window.left = "again";
			window.reads = 0;
			const read = window.fetch;
			window.fetch = (...args) => { window.reads++; return read(...args); };
		})()`))
	if eval[bool](b, "the page's polling", `!!document.body.dataset.pollMs`) {
		t.Fatal("the page of a run over polls as loaded")
	}
	b.do("the dead letters", chromedp.Click(chromedp.CSS(`nav a[href="/dlq"]`)), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	b.do("back to the run again", chromedp.Evaluate[chromedp.Void](`history.back()`))
	testutil.Eventually(t, 20*time.Second, "the run's page read once, then no more", func() bool {
		read, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.reads >= 1 && !document.body.dataset.pollMs`))
		return err == nil && read
	})
	if !eval[bool](b, "the page kept", `window.left === "again"`) {
		t.Fatal("the run's page was loaded again, not shown from the back-forward cache: this test proves nothing")
	}
	if got := eval[int](b, "the reads", `window.reads`); got != 1 {
		t.Errorf("the page of a run over and unchanged was read %d times after Back, want 1", got)
	}
}

// A child run of a step in a parallel block links to that step of its parent: the
// link shows all its items, past the 20 shown unless asked, and lands on the link back
// to the child, whose id holds a bidirectional formatting character.
func TestInspectorChildOfAParallelStepLinksToIt(t *testing.T) {
	s, admin := serveInspector(t, `
workflow "kid" {
  step "log" "c" {
    message = "hi"
  }
}
workflow "parent" {
  parallel "fan" {
    step "workflow" "kids" {
      for_each = "event.body.kids"
      workflow = "kid"
    }
    step "log" "hello" {
      message = "hi"
    }
  }
}
`)
	const key = "abc\u202egnp.exe"
	kids := []string{`"` + key + `": {}`}
	for i := range 24 {
		kids = append(kids, fmt.Sprintf(`"k%02d": {}`, i))
	}
	status, answer := postJSON(t, admin+"/api/v1/workflows/parent/runs", `{"kids": {`+strings.Join(kids, ", ")+`}}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunSucceeded)
	child := id + ":kids:" + key

	b := newBrowse(t)
	b.do("the child", chromedp.Navigate(admin+"/runs/"+url.PathEscape(child)), chromedp.WaitVisible(chromedp.CSS("#parent-run a")))
	b.do("its parent's step", chromedp.Click(chromedp.CSS("#parent-run a")), chromedp.WaitVisible(chromedp.CSS(`[id="step-fan/kids"]`)))
	if got, want := eval[string](b, "the target", `(document.querySelector(":target") || {}).id || ""`),
		"child-"+strings.ReplaceAll(child, "\u202e", "%E2%80%AE"); got != want {
		t.Errorf("the parent's page lands on %q, want %q", got, want)
	}
}

// wider is, on the page the browser shows, how much wider than the screen it is
// (0 when it fits), and the innermost elements that reach past the screen's edge.
const wider = `(() => {
	const past = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5 &&
		![...el.children].some((c) => c.getBoundingClientRect().right > innerWidth + 0.5));
	return { by: document.documentElement.scrollWidth - innerWidth,
		past: past.slice(0, 5).map((el) => el.cloneNode(false).outerHTML) };
})()`

// On a phone a run's page stacks within the screen's width, however long its child
// runs' ids (each holds its for_each key): the parent's steps and items, the child's
// facts, and their dead letters; the runs list, likewise.
func TestInspectorLongIdsOnAPhone(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	t.Setenv("INSPECTOR_API", down.URL)
	s, admin := serveInspector(t, `
workflow "kid" {
  step "http" "call" {
    url = env("INSPECTOR_API")
    retry {
      attempts = 1
    }
  }
}
workflow "parent" {
  step "workflow" "kids" {
    for_each = "event.body.kids"
    workflow = "kid"
  }
}
`)
	key := "order-" + strings.Repeat("0123456789", 12)
	status, answer := postJSON(t, admin+"/api/v1/workflows/parent/runs", `{"kids": {"`+key+`": {}}}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunFailed)
	child := url.PathEscape(id + ":kids:" + key)

	b := newBrowse(t)
	b.do("a phone", chromedp.EmulateViewport(375, 812))
	for _, page := range []string{"/", "/runs/" + id, "/runs/" + child, "/dlq", "/dlq?run=" + child} {
		b.do(page, chromedp.Navigate(admin+page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		type overflow struct {
			By   float64  `json:"by"`
			Past []string `json:"past"`
		}
		if got := eval[overflow](b, "the page's width", wider); got.By > 0 {
			t.Errorf("%s is %vpx wider than a phone's screen, past its edge:\n%s", page, got.By, strings.Join(got.Past, "\n"))
		}
	}
}
