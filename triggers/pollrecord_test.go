package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// cursorAPI answers GET /cursor?since=X&limit=N with the items after the X-th, at
// most N (default 10), oldest first: {"items": [...], "next_cursor": "<the last one's
// number>", "has_more": <items after them>}; next_cursor is since when there are none.
// fail, while it is set, answers 500 to the request with that since, once.
type cursorAPI struct {
	mu    sync.Mutex
	n     int
	since []string // the since of every request
	keys  map[string]bool
	fail  string
	srv   *httptest.Server
}

func newCursorAPI(t *testing.T, n int) *cursorAPI {
	a := &cursorAPI{n: n, keys: map[string]bool{}}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *cursorAPI) add(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += n
}

func (a *cursorAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	since := r.URL.Query().Get("since")
	a.since = append(a.since, since)
	a.keys[r.Header.Get("Idempotency-Key")] = true
	if a.fail != "" && since == a.fail {
		a.fail = ""
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	from, _ := strconv.Atoi(since)
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil {
		limit = 10
	}
	to := min(from+limit, a.n)
	items := []map[string]any{}
	for i := from + 1; i <= to; i++ {
		items = append(items, map[string]any{"id": fmt.Sprintf("it-%d", i)})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": strconv.Itoa(max(to, from)), "has_more": to < a.n})
}

// asked returns the since of every request so far, and forgets them.
func (a *cursorAPI) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.since
	a.since = nil
	return out
}

// idempotencyKeys returns how many Idempotency-Keys the requests so far carried, and
// forgets them.
func (a *cursorAPI) idempotencyKeys() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.keys)
	a.keys = map[string]bool{}
	return n
}

// cursorPollSrc polls a cursorAPI with its cursor; %[2]s is more of the trigger, and
// %[3]s its key.
const cursorPollSrc = `
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "%[1]s/cursor"
    query  = { since = "{{ poll.cursor ?? '' }}", limit = "10" }
    items  = "response.body.items"
    key    = "%[3]s"
    cursor = "response.body.next_cursor"%[2]s
  }
}
`

// cursorPaginate reads two pages a request, while has_more says there are more.
const cursorPaginate = `
    paginate {
      next      = "response.body.has_more ? '?limit=10&since=' + response.body.next_cursor : nil"
      max_pages = 2
    }`

// The first poll of a new poll trigger records the whole list and starts nothing,
// however many answers (or pages) the list takes: it reads on, with the cursor each
// answer gives, until an answer shows the end of the list (the cursor it was sent,
// or, with paginate, no next page). The polls after it start runs for the items that come
// after it only, and so does the first poll after a reload that changes the key.
func TestPollFirstPollRecordsTheWholeList(t *testing.T) {
	for _, c := range []struct {
		name, more string
		// The since of the requests of the first poll, and of the first poll after
		// the key changed (with 37 items by then).
		first, rekeyed string
	}{
		{"cursor", "", "[ 10 20 30 35]", "[ 10 20 30 37]"},
		{"paginate", cursorPaginate, "[ 10 20 30]", "[ 10 20 30]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
				api := newCursorAPI(t, 35)
				cp := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(cursorPollSrc, api.srv.URL, c.more, "item.id"))
				if got := cp.tick(); len(got) != 0 {
					t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
				}
				asked := api.asked()
				if got := fmt.Sprint(asked); got != c.first {
					t.Errorf("the first poll asked since %s, want %s: to the end of the list", got, c.first)
				}
				// Each asks for another part of the list: an API that keeps its answers
				// by Idempotency-Key must not answer one with another's.
				if n := api.idempotencyKeys(); n != len(asked) {
					t.Errorf("the first poll's %d requests carried %d Idempotency-Keys, want one each", len(asked), n)
				}
				for range 3 {
					if got := cp.tick(); len(got) != 0 {
						t.Fatalf("a poll after the first started %v, items there before it", got)
					}
				}
				api.add(2)
				if got := fmt.Sprint(cp.tick()); got != "[it-36 it-37]" {
					t.Errorf("two new items started %s, want [it-36 it-37]", got)
				}

				// Another key asks for other items: its first poll records them all again.
				cp.use(api.srv.Client(), fmt.Sprintf(cursorPollSrc, api.srv.URL, c.more, "'v2:' + item.id"))
				api.asked()
				if got := cp.tick(); len(got) != 0 {
					t.Fatalf("the first poll after the key changed started %v, want nothing", got)
				}
				if got := fmt.Sprint(api.asked()); got != c.rekeyed {
					t.Errorf("the first poll after the key changed asked since %s, want %s", got, c.rekeyed)
				}
				api.add(1)
				cp.tick()
				cp.mu.Lock()
				defer cp.mu.Unlock()
				if len(cp.runs) != 3 || cp.runs["it-38"] != 1 {
					t.Errorf("runs %v, want one for each of it-36, it-37 and it-38, the items that came after a first poll", cp.runs)
				}
			})
		})
	}
}

// A first poll that fails half-way leaves its state in Redis saying it still records:
// the next poll, by another process, goes on recording from where it stopped, and
// starts nothing for the items that were there.
func TestPollRecordingOutlivesAFailure(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newCursorAPI(t, 35)
		api.fail = "20"
		src := fmt.Sprintf(cursorPollSrc, api.srv.URL, "", "item.id")
		first := newCutPoller(t, b, api.srv.Client(), src)
		if got := first.tick(); len(got) != 0 || first.st.failures != 1 {
			t.Fatalf("a first poll failing at its third answer: started %v, %d failures; want nothing and a failure", got, first.st.failures)
		}
		if st, _, err := first.e.PollState(t.Context(), first.wf, first.wf.Triggers[0].Config.(*Poll).Key()); err != nil ||
			!st.Recording || st.Cursor != "20" {
			t.Errorf("state after the failure: %+v %v, want recording from cursor 20", st, err)
		}

		next := newCutPoller(t, b, api.srv.Client(), src) // another process, or this one restarted
		next.at = first.at
		api.asked()
		if got := next.tick(); len(got) != 0 {
			t.Fatalf("the poll after a first that failed half-way started %v, items there before", got)
		}
		if got := fmt.Sprint(api.asked()); got != "[20 30 35]" {
			t.Errorf("the poll after the failure asked since %s, want [20 30 35]: on from where the first stopped", got)
		}
		api.add(1)
		if got := fmt.Sprint(next.tick()); got != "[it-36]" {
			t.Errorf("one new item started %s, want [it-36]", got)
		}
	})
}

// A first poll sends at most maxRecordRequests requests; the next poll goes on
// recording from where it stopped. An API that answers the same items whatever the
// cursor, with a cursor that moves all the same, ends the recording when an answer
// has nothing that the poll's answers before it did not have.
func TestPollRecordingIsBounded(t *testing.T) {
	b := redistest.Mini(t)
	api := newCursorAPI(t, 10*maxRecordRequests+15)
	c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(cursorPollSrc, api.srv.URL, "", "item.id"))
	c.tick()
	if n := len(api.asked()); n != maxRecordRequests {
		t.Errorf("the first poll sent %d requests, want %d", n, maxRecordRequests)
	}
	if got := c.tick(); len(got) != 0 {
		t.Fatalf("the poll after a first cut short started %v, items there before it", got)
	}
	if n := len(api.asked()); n != 3 {
		t.Errorf("the second poll sent %d requests, want 3: two to the end of the list and one that gives the cursor it was sent", n)
	}
	api.add(1)
	if got := fmt.Sprint(c.tick()); got != fmt.Sprintf("[it-%d]", 10*maxRecordRequests+16) {
		t.Errorf("one new item started %s", got)
	}

	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items": [{"id": "a"}, {"id": "b"}], "next_cursor": "%d"}`, since+1)
	}))
	defer same.Close()
	c.use(same.Client(), fmt.Sprintf(cursorPollSrc, same.URL, "", "'same:' + item.id"))
	c.tick()
	if st, _, err := c.e.PollState(t.Context(), c.wf, c.wf.Triggers[0].Config.(*Poll).Key()); err != nil || st.Recording || st.Cursor != "2" {
		t.Errorf("state after a first poll whose second answer had nothing new: %+v %v, want done, at cursor 2", st, err)
	}
}

// A first poll of a long list from a slow API stops while it has time for one more
// request, with its cursor kept, rather than fail at the poll's bound: the next poll
// goes on recording from there, and nothing counts as a failure.
func TestPollRecordingStopsInTime(t *testing.T) {
	b := redistest.Mini(t)
	api := newCursorAPI(t, 1000)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	// A timeout well above the answers' 40 ms, so that a busy machine does not fail a
	// request: the poll stops for want of time for one more, 1.5 s in.
	c := newCutPoller(t, b, slow.Client(), fmt.Sprintf(cursorPollSrc, slow.URL, "\n    timeout = \"500ms\"", "item.id"))
	poll := c.wf.Triggers[0].Config.(*Poll)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := c.p.record(ctx, c.wf, poll, workflows.PollState{}, "2026-12-04T21:00:00Z")
	if err != nil || !out.recording {
		t.Fatalf("record: %+v %v, want it to stop in time, still recording", out, err)
	}
	st, found, err := poll.LastState(context.Background(), c.e, c.wf)
	if err != nil || !found || !st.Recording || st.Cursor == nil {
		t.Fatalf("kept %+v (found %v, %v), want a cursor, still recording", st, found, err)
	}
	if n := len(api.asked()); n < 2 || n >= 100 {
		t.Errorf("the first poll sent %d requests, want some, cut short by its time", n)
	}
	// The next poll goes on from the cursor kept, and starts nothing.
	if got := c.tick(); len(got) != 0 {
		t.Errorf("the next poll started %v, items there before the first", got)
	}
}

// A poll whose timeout is a minute or more (its bound is then twice its timeout)
// still reads on in its first poll: it has time for one more request while the time
// left is more than one request's.
func TestPollRecordingWithALongTimeoutReadsOn(t *testing.T) {
	b := redistest.Mini(t)
	api := newCursorAPI(t, 10*maxRecordRequests)
	c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(cursorPollSrc, api.srv.URL, "\n    timeout = \"1m\"", "item.id"))
	c.tick()
	if n := len(api.asked()); n != maxRecordRequests {
		t.Errorf("the first poll sent %d requests, want %d", n, maxRecordRequests)
	}
}

// A first poll its api's rate_limit holds back between answers waits its turn and
// reads on, rather than end the poll there as a failure.
func TestPollRecordingWaitsForItsAPI(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		cursor := newCursorAPI(t, 200)
		p, e, wf, poll := apiPoller(t, b, cursor.srv.Client(), fmt.Sprintf(`
api "shop" {
  base_url   = "%s"
  rate_limit = "40/s"
  burst      = 1
}

workflow "orders" {
  trigger "poll" {
    every  = "1m"
    api    = "shop"
    url    = "/cursor"
    query  = { since = "{{ poll.cursor ?? '' }}", limit = "10" }
    items  = "response.body.items"
    key    = "item.id"
    cursor = "response.body.next_cursor"
  }
}
`, cursor.srv.URL))
		st := &streak{}
		began := time.Now()
		p.tick(context.Background(), wf, poll, st, time.Now().Truncate(time.Minute))
		if n := len(cursor.asked()); n != 21 {
			t.Errorf("the first poll sent %d requests, want 21: the list's 20 answers and an empty one", n)
		}
		if st.failures != 0 {
			t.Errorf("the first poll counted %d failures", st.failures)
		}
		if took := time.Since(began); took < 400*time.Millisecond {
			t.Errorf("21 requests at 40 a second took %v: the api's limit did not hold them back", took)
		}
		kept, found, err := poll.LastState(context.Background(), e, wf)
		if err != nil || !found || kept.Recording {
			t.Errorf("kept %+v (found %v, %v), want the recording over", kept, found, err)
		}
	})
}
