package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/testutil"
)

// serveInspector serves the workflows of src over an embedded Redis, without tokens,
// and returns the server and the admin listener's base URL.
func serveInspector(t *testing.T, src string) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "w.hcl"), src)
	cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 4, noWatch: true, allowNet: loopback}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown() })
	return s, "http://" + s.adminAddr
}

// browse is a tab of a headless chromium, with what the inspector's tests do in it.
type browse struct {
	t   *testing.T
	ctx context.Context
}

func newBrowse(t *testing.T) *browse {
	t.Helper()
	return &browse{t: t, ctx: newBrowser(t, chromiumPath(t), 90*time.Second)}
}

func (b *browse) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a script in the page, its value decoded as a T.
func eval[T any](b *browse, what, script string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](script))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// until waits for a script to be true in the page.
func (b *browse) until(what, script string) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](script, chromedp.WithPollingTimeout(20*time.Second)))
}

// listPage is one page of a list, as the browser shows it: its rows' ids, and the
// address of the older ones ("" when there is none).
type listPage struct {
	Rows []string `json:"rows"`
	Next string   `json:"next"`
}

// pageThrough reads the list the browser shows (rows matching rowSel, each named by
// its attribute attr), then follows its "older" link (olderSel) to the end, and
// returns every row's name, in order. The rows and the link of a page are read at
// once, as a live update swaps them.
func (b *browse) pageThrough(rowSel, attr, olderSel, ready string) []string {
	b.t.Helper()
	var all []string
	for range 20 {
		p := eval[listPage](b, "reading the list", `({
			rows: [...document.querySelectorAll(`+strconv.Quote(rowSel)+`)].map((r) => r.getAttribute(`+strconv.Quote(attr)+`)),
			next: (document.querySelector(`+strconv.Quote(olderSel)+`) || {}).href || "",
		})`)
		all = append(all, p.Rows...)
		if p.Next == "" {
			return all
		}
		b.do("the older page", chromedp.Navigate(p.Next), chromedp.WaitReady(chromedp.CSS(ready)))
	}
	b.t.Fatalf("more than 20 pages")
	return nil
}

// The runs list's first page goes on updating as runs arrive, and its "Older runs"
// link with it: it goes on from the last row shown, so paging through reaches every
// run once, whether the link was there when the page loaded (runs pushed off the
// first page are on the second) or not (a list that grew past a page gets one).
func TestInspectorLiveRunsReachEveryRun(t *testing.T) {
	s, admin := serveInspector(t, `
workflow "simple" {
  trigger "webhook" {
    path = "/simple"
  }
  step "log" "l" {
    message = "hi"
  }
}
workflow "other" {
  trigger "webhook" {
    path = "/other"
  }
  step "log" "l" {
    message = "hi"
  }
}
`)
	var ids []string
	post := func(n int) {
		t.Helper()
		for range n {
			status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks/simple", `{}`)
			if status != http.StatusAccepted {
				t.Fatalf("webhook answered %d %v", status, answer)
			}
			ids = append(ids, answer["run_id"].(string))
			postJSON(t, "http://"+s.publicAddr+"/hooks/other", `{}`) // not in the list
		}
	}
	// every checks that paging through from the first page shows every run once.
	b := newBrowse(t)
	every := func(when string) {
		t.Helper()
		got := b.pageThrough("#runs tr[data-run]", "data-run", "#older-runs a", "#runs")
		// Runs created in the same millisecond are listed by id, not as they came.
		got, want := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			missing := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(got, id) })
			t.Errorf("%s: paging through shows %d runs, want %d; missing %v", when, len(got), len(want), missing)
		}
	}
	arrived := func(what string) {
		t.Helper()
		b.until(what, `!!document.querySelector('#runs tr[data-run="`+ids[len(ids)-1]+`"]')`)
	}

	post(13)
	b.do("the runs of simple", chromedp.Navigate(admin+"/?workflow=simple"), chromedp.WaitReady(chromedp.CSS("#runs")))
	if eval[bool](b, "the link", `!!document.querySelector('#older-runs a')`) {
		t.Errorf("13 runs have an Older runs link")
	}
	post(40)
	arrived("the 40 new runs arriving")
	if n := eval[int](b, "rows", `document.querySelectorAll('#runs tr[data-run]').length`); n != 50 {
		t.Errorf("%d rows, want 50", n)
	}
	every("a list grown past a page")

	b.do("the runs of simple again", chromedp.Navigate(admin+"/?workflow=simple"), chromedp.WaitVisible(chromedp.CSS("#older-runs a")))
	post(10)
	arrived("the 10 new runs arriving")
	every("a list with older runs, 10 runs later")
}

// serveDeadLetters serves two workflows whose one step always fails, one calling a
// URL with a long percent-encoded path (its error has no place to break), and makes
// n dead letters, alternating them. It returns the server, the admin listener's base
// URL and the dead letters' ids.
func serveDeadLetters(t *testing.T, n int) (*server, string, []string) {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(api.Close)
	t.Setenv("INSPECTOR_API", api.URL)
	s, admin := serveInspector(t, `
workflow "callback" {
  step "http" "push" {
    url = "${env("INSPECTOR_API")}/callback/`+strings.Repeat("%E2%9C%93", 60)+`"
  }
}
workflow "sync" {
  step "http" "push" {
    url = env("INSPECTOR_API")
  }
}
`)
	var ids []string
	for i := range n {
		wf := []string{"callback", "sync"}[i%2]
		status, answer := postJSON(t, admin+"/api/v1/workflows/"+wf+"/runs", `{}`)
		if status != http.StatusAccepted {
			t.Fatalf("start answered %d %v", status, answer)
		}
		id := answer["run_id"].(string)
		waitEngineRun(t, s.engine, id, engine.RunFailed)
		ids = append(ids, id+":push")
	}
	return s, admin, ids
}

// cellsOutOfRow names the cells of a table's rows that are not laid out as cells of
// their row: another display, or a box that does not span the row's height.
const cellsOutOfRow = `(() => {
  const bad = [];
  document.querySelectorAll('#dead-letters tbody tr').forEach((tr, i) => {
    const row = tr.getBoundingClientRect();
    [...tr.cells].forEach((td, j) => {
      const box = td.getBoundingClientRect(), display = getComputedStyle(td).display;
      if (display !== 'table-cell' || Math.abs(box.top - row.top) > 1 || Math.abs(box.bottom - row.bottom) > 1) {
        bad.push('row ' + i + ' cell ' + j + ': ' + display + ' ' + box.top + '-' + box.bottom + ' in ' + row.top + '-' + row.bottom);
      }
    });
  });
  return bad;
})()`

// offPhone names what of the dead letters is not on a phone's screen, or too narrow
// to read: the page or the table wider than the screen, an error narrower than most
// of it, a button past its edge.
const offPhone = `(() => {
  const bad = [], width = document.documentElement.clientWidth;
  const scroll = document.querySelector('#dead-letters').closest('.scroll');
  if (document.documentElement.scrollWidth > width) bad.push('the page is ' + document.documentElement.scrollWidth + 'px wide');
  if (scroll.scrollWidth > scroll.clientWidth) bad.push('the table is ' + scroll.scrollWidth + 'px wide');
  document.querySelectorAll('#dead-letters tbody tr').forEach((tr, i) => {
    const err = tr.querySelector('td.err pre').getBoundingClientRect();
    if (err.width < width * 0.8) bad.push('row ' + i + ': its error is ' + err.width + 'px wide');
    tr.querySelectorAll('button').forEach((b) => {
      const r = b.getBoundingClientRect();
      if (r.left < 0 || r.right > width) bad.push('row ' + i + ': ' + b.textContent + ' at ' + r.left + '-' + r.right);
    });
  });
  return bad;
})()`

// The dead letters page lays its table out as a table on a desktop: the Retry cell,
// holding a row of buttons, is a cell of its row, its border in line with the others'.
// On a phone the rows stack, so an error that has no place to break (a long
// percent-encoded URL) reads across the screen, and the buttons are on it.
func TestInspectorDeadLettersLayout(t *testing.T) {
	_, admin, _ := serveDeadLetters(t, 3)
	b := newBrowse(t)
	b.do("the dead letters", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.CSS("#dead-letters button[data-post]")))
	if bad := eval[[]string](b, "the cells", cellsOutOfRow); len(bad) > 0 {
		t.Errorf("cells out of their rows:\n%s", strings.Join(bad, "\n"))
	}
	b.do("the dead letters on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(admin+"/dlq"),
		chromedp.WaitVisible(chromedp.CSS("#dead-letters button[data-post]")))
	if bad := eval[[]string](b, "the rows on a phone", offPhone); len(bad) > 0 {
		t.Errorf("on a phone:\n%s", strings.Join(bad, "\n"))
	}
}

// The dead letters page shows 50, and "Older dead letters" goes on with the API's
// cursor: paging through shows every dead letter once.
func TestInspectorDeadLettersPaging(t *testing.T) {
	_, admin, ids := serveDeadLetters(t, 53)
	b := newBrowse(t)
	b.do("the dead letters", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.CSS("#older-dead-letters a")))
	if n := eval[int](b, "rows", `document.querySelectorAll('#dead-letters tr[data-dead-letter]').length`); n != 50 {
		t.Errorf("%d rows, want 50", n)
	}
	got := b.pageThrough("#dead-letters tr[data-dead-letter]", "data-dead-letter", "#older-dead-letters a", "#dead-letters")
	// Dead letters of the same millisecond are listed by id, not as they came.
	got, want := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Errorf("paging through shows %d dead letters, want %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
}

// errorsOutOfCells names the runs list's errors drawn out of their cells, in a column
// too narrow to read or past three lines, and says when the table is wider than the
// page or a run's status is off the screen.
const errorsOutOfCells = `(() => {
  const bad = [], scroll = document.querySelector('#runs').closest('.scroll');
  if (scroll.scrollWidth > scroll.clientWidth) bad.push('the table is ' + scroll.scrollWidth + 'px wide in ' + scroll.clientWidth);
  document.querySelectorAll('#runs .status').forEach((s, i) => {
    const r = s.getBoundingClientRect();
    if (r.left < 0 || r.right > document.documentElement.clientWidth) bad.push('status ' + i + ' at ' + r.left + '-' + r.right);
  });
  document.querySelectorAll('#runs td.err').forEach((td, i) => {
    if (td.scrollWidth > td.clientWidth) bad.push('error ' + i + ' is ' + td.scrollWidth + 'px wide in a ' + td.clientWidth + 'px cell');
    if (td.getBoundingClientRect().width < 150) bad.push('error ' + i + ' is in a ' + td.getBoundingClientRect().width + 'px column');
    const shown = td.querySelector('.clamp'), line = shown && parseFloat(getComputedStyle(shown).lineHeight);
    if (shown && shown.getBoundingClientRect().height > 3 * line + 1) bad.push('error ' + i + ' is ' + shown.getBoundingClientRect().height + 'px tall, past 3 lines');
  });
  return bad;
})()`

// A run's error in the runs list, even one with no place to break (a long
// percent-encoded URL), stays in its cell, its first three lines at most: on a
// desktop the table fits the page; on a phone each run stacks, as a dead letter does,
// a line for each of its fields, so the table fits the screen too, and the error
// wraps across it.
func TestInspectorRunsListErrors(t *testing.T) {
	_, admin, _ := serveDeadLetters(t, 3)
	b := newBrowse(t)
	for _, screen := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		b.do("the runs on a "+screen.name, chromedp.EmulateViewport(screen.width, screen.height), chromedp.Navigate(admin+"/"),
			chromedp.WaitVisible(chromedp.CSS("#runs td.err")))
		if bad := eval[[]string](b, "the errors", errorsOutOfCells); len(bad) > 0 {
			t.Errorf("on a %s:\n%s", screen.name, strings.Join(bad, "\n"))
		}
	}
}

// cellsUnderLabels names, in the stacked tables of a phone, what a cell holds that
// lies under its column's name rather than beside it, and a status pill stretched
// past its word or broken over lines.
const cellsUnderLabels = `(() => {
  const bad = [];
  document.querySelectorAll('table.stack td[data-label]:not(.err)').forEach((td, i) => {
    const left = td.getBoundingClientRect().left + 80; // the name's column, 5.5rem
    [...td.children].forEach((el) => {
      const r = el.getBoundingClientRect();
      if (r.width && r.left < left) bad.push(td.dataset.label + ' ' + i + ': "' + el.textContent + '" at ' + r.left + ', under the name');
    });
    td.querySelectorAll('.status').forEach((s) => {
      const range = document.createRange();
      range.selectNodeContents(s);
      const word = range.getBoundingClientRect(), r = s.getBoundingClientRect();
      if (r.width > word.width + 24) bad.push(td.dataset.label + ' ' + i + ': the pill is ' + r.width + 'px wide for a ' + word.width + 'px word');
      if (r.height > 1.8 * word.height) bad.push(td.dataset.label + ' ' + i + ': the pill is ' + r.height + 'px tall');
    });
  });
  return bad;
})()`

// On a phone the runs stack, each field beside its name: a run's status pill is as
// wide as its word, and the note after it (replayed 1×) beside it, not under the
// field's name.
func TestInspectorRunsListStatusOnAPhone(t *testing.T) {
	s, admin, ids := serveDeadLetters(t, 2)
	run, _, _ := strings.Cut(ids[0], ":")
	if status, out := postJSON(t, admin+"/api/v1/runs/"+run+"/replay", `{}`); status != http.StatusAccepted {
		t.Fatalf("replay answered %d %v", status, out)
	}
	testutil.Eventually(t, 10*time.Second, "the replayed run failed again", func() bool {
		r, err := s.engine.Run(context.Background(), run)
		return err == nil && r.Status == engine.RunFailed && r.Replays == 1
	})
	b := newBrowse(t)
	b.do("the runs on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#runs tr[data-run="`+run+`"] .note`)))
	if bad := eval[[]string](b, "the cells", cellsUnderLabels); len(bad) > 0 {
		t.Errorf("on a phone:\n%s", strings.Join(bad, "\n"))
	}
}
