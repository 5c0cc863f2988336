package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
)

// largeRun is a page of a run with a for_each step of many items, as a browser shows
// it: its size, its elements, how long it took to load, where the step after the
// for_each is, and how long the page waits between two polls.
type largeRun struct {
	Bytes     int
	Nodes     int     `json:"nodes"`
	LoadMS    float64 `json:"load_ms"`
	AfterY    float64 `json:"after_y"`
	Polls     int     `json:"polls"`
	BusyMS    float64 `json:"busy_ms"`
	PollDelay int     `json:"poll_delay"`
}

// A run whose for_each step has 1,000 items reads like one that has a few: the step
// says how many of its items are in each status, and shows only those that failed or
// are in flight, with a link to them all, so the step after it is on the first
// screen; while the run goes on, the page polls itself less often the bigger it is. The test logs what it measured (docs/performance.md):
//
//	go test ./cmd/hookflow -run TestInspectorLargeForEach -v
func TestInspectorLargeForEach(t *testing.T) {
	const items = 1000
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"reserved": true, "sku": "`+strings.TrimPrefix(r.URL.Path, "/stock/")+`"}`)
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	s, admin := serveInspector(t, `
workflow "big" {
  step "http" "reserve" {
    for_each = "event.body.items"
    url      = "${env("INSPECTOR_API")}/stock/{{ each.value }}"
    method   = "POST"
    json     = { qty = 1 }
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	skus := make([]string, items)
	for i := range skus {
		skus[i] = fmt.Sprintf(`"sku-%04d"`, i)
	}
	status, answer := postJSON(t, admin+"/api/v1/workflows/big/runs", `{"items": [`+strings.Join(skus, ",")+`]}`)
	if status != http.StatusAccepted {
		t.Fatalf("start answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)
	b := newBrowse(t)
	// measure loads the run's page at path, and follows it ten seconds: how often it
	// read itself, and how long the main thread was busy with long tasks (over 50ms)
	// meanwhile.
	measure := func(path string) largeRun {
		t.Helper()
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.do("the run", chromedp.Navigate(admin+path), chromedp.WaitVisible(chromedp.CSS("#step-approval")))
		b.until("the page loaded", `performance.getEntriesByType("navigation")[0].loadEventEnd > 0`)
		b.do("counting the polls", chromedp.Evaluate[chromedp.Void](countPolls), chromedp.Evaluate[chromedp.Void](`(() => {
			window.busy = 0;
			window.since = performance.now();
			new PerformanceObserver((l) => l.getEntries().forEach((e) => { window.busy += e.duration; })).observe({ type: "longtask" });
			return true;
		})()`))
		b.until("ten seconds", "performance.now() - window.since > 10000")
		m := eval[largeRun](b, "measuring", `({
			nodes: document.getElementsByTagName("*").length,
			load_ms: performance.getEntriesByType("navigation")[0].loadEventEnd,
			after_y: document.getElementById("step-approval").getBoundingClientRect().top + scrollY,
			polls: window.polls,
			busy_ms: window.busy,
			poll_delay: Number(document.body.dataset.pollMs || 0),
		})`)
		m.Bytes = len(page)
		t.Logf("%s: %d bytes, %d elements, loaded in %.0fms, the step after at %.0fpx; in 10s %d polls, "+
			"the main thread busy %.0fms in long tasks; polls every %dms", path, m.Bytes, m.Nodes, m.LoadMS, m.AfterY, m.Polls, m.BusyMS, m.PollDelay)
		return m
	}

	folded := measure("/runs/" + id)
	if folded.AfterY > 900 {
		t.Errorf("the step after the for_each is %.0fpx down the page", folded.AfterY)
	}
	if got := eval[string](b, "the counts", `document.querySelector("#step-reserve .item-counts").textContent`); got != "1000 succeeded" {
		t.Errorf("the item counts say %q", got)
	}
	b.do("all the items", chromedp.Click(chromedp.CSS("#step-reserve .more-items a")), chromedp.WaitVisible(chromedp.CSS(`[id="step-reserve[999]"]`)))
	all := measure("/runs/" + id + "?items=reserve")
	if all.Nodes < 10*items {
		t.Errorf("the page of all the items has %d elements", all.Nodes)
	}
	if all.PollDelay < 10_000 {
		t.Errorf("a page of %d bytes is polled every %dms", all.Bytes, all.PollDelay)
	}
}

// A run whose webhook's body is one string of 3,000,000 characters shows each value
// holding it (the event's body, a step's output, the request that sent it and its
// answer) cut after 32 Ki characters, with a link to the run's JSON, which has it
// whole: the page, which reads itself again while the run goes on, is a few hundred
// KB, not megabytes. The test logs what it measured (docs/performance.md):
//
//	go test ./cmd/hookflow -run TestInspectorLargeValues -v
func TestInspectorLargeValues(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, r.Body)
	}))
	defer api.Close()
	t.Setenv("INSPECTOR_API", api.URL)
	s, admin := serveInspector(t, `
workflow "big" {
  trigger "webhook" {
    path     = "/big"
    max_body = "4MiB"
  }
  step "set" "note" {
    text = "{{ event.body.note }}"
  }
  step "http" "echo" {
    url    = "${env("INSPECTOR_API")}/echo"
    method = "POST"
    json   = { note = "{{ event.body.note }}" }
  }
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	long := strings.Repeat("x", 3_000_000)
	status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/big", `{"note": "`+long+`"}`)
	if status != http.StatusAccepted {
		t.Fatalf("the webhook answered %d %v", status, answer)
	}
	id := answer["run_id"].(string)
	waitEngineRun(t, s.engine, id, engine.RunWaiting)

	resp, err := http.Get(admin + "/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b := newBrowse(t)
	b.do("the run", chromedp.Navigate(admin+"/runs/"+id), chromedp.WaitVisible(chromedp.CSS("#step-approval")))
	b.until("the page loaded", `performance.getEntriesByType("navigation")[0].loadEventEnd > 0`)
	b.do("counting the polls", chromedp.Evaluate[chromedp.Void](countPolls), chromedp.Evaluate[chromedp.Void](`(() => {
		window.busy = 0;
		window.since = performance.now();
		new PerformanceObserver((l) => l.getEntries().forEach((e) => { window.busy += e.duration; })).observe({ type: "longtask" });
		return true;
	})()`))
	b.until("ten seconds", "performance.now() - window.since > 10000")
	m := eval[largeRun](b, "measuring", `({
		nodes: document.getElementsByTagName("*").length,
		load_ms: performance.getEntriesByType("navigation")[0].loadEventEnd,
		polls: window.polls,
		busy_ms: window.busy,
		poll_delay: Number(document.body.dataset.pollMs || 0),
	})`)
	m.Bytes = len(page)
	t.Logf("%d bytes, %d elements, loaded in %.0fms; in 10s %d polls, the main thread busy %.0fms in long tasks; polls every %dms",
		m.Bytes, m.Nodes, m.LoadMS, m.Polls, m.BusyMS, m.PollDelay)
	if m.Bytes > 400_000 {
		t.Errorf("the page is %d bytes", m.Bytes)
	}
	// The event's body, open, says how much more it has; its link shows it all.
	note := eval[string](b, "the body's cut", `document.querySelector("#event-body .cut").textContent`)
	if want := "… 2967248 more characters (the run's JSON shows all)"; note != want {
		t.Errorf("the event's body ends with %q, want %q", note, want)
	}
	href := eval[string](b, "the link", `document.querySelector("#event-body .cut a").href`)
	if href != admin+"/api/v1/runs/"+id {
		t.Errorf("the link is to %s", href)
	}
	b.do("the run's JSON", chromedp.Navigate(href))
	if got := eval[string](b, "the body in the JSON", `JSON.parse(document.body.innerText).event.body.note`); got != long {
		t.Errorf("the run's JSON has a note of %d characters", len(got))
	}
}
