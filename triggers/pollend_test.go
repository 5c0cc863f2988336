package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// slackAPI answers GET /history?cursor=C&limit=N as Slack's conversations.history
// does: the messages after the C-th, N at a time, with has_more and
// response_metadata.next_cursor ("" at the end). The messages of hidden are counted
// but not shown, so a page may hold none while the list goes on.
type slackAPI struct {
	mu      sync.Mutex
	n       int
	hidden  map[int]bool
	cursors []string // the cursor of every request
	srv     *httptest.Server
}

func newSlackAPI(t *testing.T, n int, hidden ...int) *slackAPI {
	a := &slackAPI{n: n, hidden: map[int]bool{}}
	for _, h := range hidden {
		a.hidden[h] = true
	}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *slackAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cursor := r.URL.Query().Get("cursor")
	a.cursors = append(a.cursors, cursor)
	from, _ := strconv.Atoi(strings.TrimPrefix(cursor, "c"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	to := min(from+limit, a.n)
	messages := []map[string]any{}
	for i := from + 1; i <= to; i++ {
		if !a.hidden[i] {
			messages = append(messages, map[string]any{"ts": fmt.Sprintf("1700000000.%06d", i), "id": fmt.Sprintf("m%d", i)})
		}
	}
	next := ""
	if to < a.n {
		next = fmt.Sprintf("c%d", to)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": messages, "has_more": to < a.n,
		"response_metadata": map[string]any{"next_cursor": next}})
}

func (a *slackAPI) add(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += n
}

// asked returns the cursor of every request so far, and forgets them.
func (a *slackAPI) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.cursors
	a.cursors = nil
	return out
}

const slackPollSrc = `
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "%s/history"
    query  = { limit = "3", cursor = "{{ poll.cursor ?? '' }}" }
    items  = "response.body.messages"
    key    = "item.ts"
    cursor = "response.body.response_metadata.next_cursor"
  }
}
`

// A first poll reads on to the end of the list as the API says it: a page with no
// items whose cursor moves on (Slack's, when all of its messages are hidden) is not
// the end, and the items after it were there before the first poll: they start no
// runs.
func TestPollFirstPollReadsPastAnEmptyPage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newSlackAPI(t, 12, 4, 5, 6)
		c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(slackPollSrc, api.srv.URL))
		if got := c.tick(); len(got) != 0 {
			t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
		}
		if got := fmt.Sprint(api.asked()); got != "[ c3 c6 c9]" {
			t.Errorf("the first poll asked with cursors %s, want [ c3 c6 c9]: past the empty page, to the end", got)
		}
		if st, _, err := c.e.PollState(t.Context(), c.wf, c.wf.Triggers[0].Config.(*Poll).Key()); err != nil || st.Recording {
			t.Errorf("state after the first poll: %+v %v, want its recording over", st, err)
		}
		for range 2 {
			if got := c.tick(); len(got) != 0 {
				t.Fatalf("a poll after the first started %v, items there before it", got)
			}
		}
		// The cursor kept is the last page's (its next_cursor is ""): the poll that
		// reads it again gets the cursor to the new message's page.
		api.add(1)
		if got := fmt.Sprint(append(c.tick(), c.tick()...)); got != "[m13]" {
			t.Errorf("a new message started %s, want [m13]", got)
		}
	})
}

// Seen keys are the workflow's: a poll whose url changed records its list anew in its
// first poll, and an answer of items the poll before it saw already is not the end of
// the list. The items after it, there before the first poll, start no runs.
func TestPollFirstPollReadsPastItemsSeenBefore(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		api := newCursorAPI(t, 20)
		c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(cursorPollSrc, api.srv.URL, "", "item.id"))
		if got := c.tick(); len(got) != 0 {
			t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
		}
		api.add(15)
		// Another url: another poll, whose first records what is there, it-1 to it-35.
		c.use(api.srv.Client(), strings.Replace(fmt.Sprintf(cursorPollSrc, api.srv.URL, "", "item.id"), "/cursor", "/cursor/v2", 1))
		api.asked()
		if got := c.tick(); len(got) != 0 {
			t.Fatalf("the first poll of the new url started %v, want nothing", got)
		}
		if got := fmt.Sprint(api.asked()); got != "[ 10 20 30 35]" {
			t.Errorf("the first poll of the new url asked since %s, want [ 10 20 30 35]: past the answers seen before, to the end", got)
		}
		for range 2 {
			if got := c.tick(); len(got) != 0 {
				t.Fatalf("a poll after the first started %v, items there before it", got)
			}
		}
		api.add(1)
		if got := fmt.Sprint(c.tick()); got != "[it-36]" {
			t.Errorf("a new item started %s, want [it-36]", got)
		}
	})
}

// An API that answers a new cursor with every answer, and nothing after its list (the
// time it answered, say), ends a first poll after maxEmptyAnswers answers in a row
// with no items: the polls after it start runs for what comes.
func TestPollFirstPollEndsAfterEmptyAnswers(t *testing.T) {
	b := redistest.Mini(t)
	var mu sync.Mutex
	asked, items := 0, 2
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		list := []map[string]any{}
		for i := since + 1; i <= items; i++ {
			list = append(list, map[string]any{"id": fmt.Sprintf("it-%d", i)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": list, "next_cursor": strconv.Itoa(max(since, items)) + "." + strconv.Itoa(asked)})
	}))
	t.Cleanup(api.Close)
	src := strings.Replace(fmt.Sprintf(cursorPollSrc, api.URL, "", "item.id"), `"{{ poll.cursor ?? '' }}"`, `"{{ split(poll.cursor ?? '0', '.')[0] }}"`, 1)
	c := newCutPoller(t, b, api.Client(), src)
	if got := c.tick(); len(got) != 0 {
		t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
	}
	if st, _, err := c.e.PollState(t.Context(), c.wf, c.wf.Triggers[0].Config.(*Poll).Key()); err != nil || st.Recording {
		t.Errorf("state after the first poll: %+v %v, want its recording over", st, err)
	}
	mu.Lock()
	if asked != 1+maxEmptyAnswers {
		t.Errorf("the first poll sent %d requests, want %d: its answer with items, and %d with none", asked, 1+maxEmptyAnswers, maxEmptyAnswers)
	}
	items++
	mu.Unlock()
	if got := fmt.Sprint(c.tick()); got != "[it-3]" {
		t.Errorf("a new item started %s, want [it-3]", got)
	}
}

// The empty answers that end a poll's first are counted over its polls: a poll that
// has time for few answers (an api's rate limit, a slow API) still ends its first
// after maxEmptyAnswers of them in a row, and keeps the count while it records.
func TestPollFirstPollCountsEmptyAnswersOverPolls(t *testing.T) {
	b := redistest.Mini(t)
	var mu sync.Mutex
	asked := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": []any{}, "next_cursor": "2." + strconv.Itoa(asked)})
	}))
	t.Cleanup(api.Close)
	src := strings.Replace(fmt.Sprintf(cursorPollSrc, api.URL, "", "item.id"), `"{{ poll.cursor ?? '' }}"`, `"{{ split(poll.cursor ?? '0', '.')[0] }}"`, 1)
	c := newCutPoller(t, b, api.Client(), src)
	poll := c.wf.Triggers[0].Config.(*Poll)
	// The polls before had maxEmptyAnswers-1 empty answers in a row: this one's first
	// answer, empty too, ends the list.
	out, err := c.p.record(t.Context(), c.wf, poll, workflows.PollState{Cursor: "2.0", Recording: true, Empty: maxEmptyAnswers - 1}, "2026-12-05T15:00:00Z")
	if err != nil || out.recording {
		t.Fatalf("record: %+v %v, want the list ended", out, err)
	}
	mu.Lock()
	if asked != 1 {
		t.Errorf("sent %d requests, want 1", asked)
	}
	mu.Unlock()
	if st, _, err := c.e.PollState(t.Context(), c.wf, poll.Key()); err != nil || st.Recording || st.Empty != 0 {
		t.Errorf("state %+v %v, want the recording over", st, err)
	}
	// A poll that stops before the end keeps the count with its cursor.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := c.e.SavePoll(t.Context(), c.wf, poll.Key(), workflows.PollState{Cursor: "2.0", Recording: true, Empty: 3}); err != nil {
		t.Fatal(err)
	}
	if st, _, err := c.e.PollState(ctx, c.wf, poll.Key()); err != nil || st.Empty != 3 {
		t.Errorf("state read back %+v %v, want its count of 3", st, err)
	}
}
