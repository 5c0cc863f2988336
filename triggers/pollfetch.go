package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"

	"github.com/hookflow/hookflow/workflows"
)

// ItemStatus is what a poll does with an item of its answer.
type ItemStatus int

const (
	// ItemNew starts a run.
	ItemNew ItemStatus = iota
	// ItemSeen started a run, or was recorded, within the poll's seen_window: it starts
	// none.
	ItemSeen
	// ItemFiltered is turned down by the workflow's filter: it starts no run and is
	// not remembered, so a later poll that finds it changed can start one.
	ItemFiltered
	// ItemFilterFails is an item the filter cannot be evaluated on: it records one
	// failed run that keeps it.
	ItemFilterFails
	// ItemCut is new but comes after max_items items that start runs: it is left for
	// a later poll, which finds it again since the cursor is kept.
	ItemCut
	// ItemRecorded is read by a poll's first (without backfill), which records it as
	// there before and starts nothing.
	ItemRecorded
)

// Starts reports whether the item starts a run (a failed one for ItemFilterFails):
// what max_items counts.
func (s ItemStatus) Starts() bool { return s == ItemNew || s == ItemFilterFails }

// Cut says why a poll did not look at all of its list; "" when it did.
type Cut string

const (
	// CutMaxItems: max_items items start runs, and new items come after them (with
	// paginate: the pages after the one where the max_items-th was found are not read).
	CutMaxItems Cut = "max_items"
	// CutMaxPages: max_pages pages were read, and the list goes on.
	CutMaxPages Cut = "max_pages"
	// CutTime: the poll's pages ended, a little before its bound (pollBound), with a
	// page read and the list going on (see pageTimes), or its bound came during the
	// starts of its new items: the poll keeps the cursor it was sent, as for the cuts
	// above, since the one read from the last page read may point past the pages it
	// did not read.
	CutTime Cut = "time"
)

// Found is one item of a poll's answer and what the poll does with it.
type Found struct {
	Value  any    // the item, as the list gives it
	Key    string // its dedupe key: "poll:" and its key
	Page   int    // the page it came on: 1 without paginate
	Status ItemStatus
	// Event is the event of its run, made when the filter was evaluated on it; nil
	// otherwise (see Poll.ItemEvent).
	Event *workflows.Event
	// Failure is why the filter cannot be evaluated on an ItemFilterFails.
	Failure string
}

// Answer is what one poll found: every item of the pages read, in list order, with
// what the poll does with each; how many start runs (at most max_items); whether
// part of the list was not looked at; the cursor read from the last page read; and
// the request as sent, redacted.
type Answer struct {
	Items  []Found
	Starts int
	Cut    Cut
	Cursor any
	// CursorKept says the cursor expression gave nil or "" (an answer with nothing
	// new, which many APIs send without a cursor): Cursor is the one the poll was
	// sent with, kept, so that the next poll does not start the list again.
	CursorKept bool
	// Sent is what the poll sent and got back, a request a page, in order.
	Sent []*workflows.Request
}

// Keys returns the dedupe key of every item.
func (a *Answer) Keys() []string {
	keys := make([]string, len(a.Items))
	for i, f := range a.Items {
		keys[i] = f.Key
	}
	return keys
}

// Look is what Fetch consults to tell what the poll does with each item.
type Look struct {
	// Seen reports, for each dedupe key, whether it started a run (or was recorded)
	// within the poll's seen_window; nil: none did.
	Seen func(ctx context.Context, keys []string) ([]bool, error)
	// Filter applies the workflow's filter to the new items, as a Poller does: an
	// item it turns down does not count toward max_items.
	Filter bool
	// Record is a poll's first, without backfill: every item it reads not seen is
	// ItemRecorded, and none is cut by max_items.
	Record bool
	// Now is when the items are received: their events' received_at.
	Now time.Time
	// More is called once a page is read when the list goes on after it, and reports
	// whether the poll reads on: when it does not, the poll is cut by time (CutTime)
	// there. nil: it always does. A poll's first (Record) has none: it is never cut so.
	More func() bool
}

// Fetch asks the API for the poll's items, with cursor as poll.cursor and at as
// poll.time: from its answer, or from its pages with a paginate block, until next
// gives nil, max_pages pages are read, max_items items that start runs are found, or
// look.More says the poll reads no more. It reads each item's key, tells with look
// what the poll does with it, and reads the next cursor from the last page read: nil
// or "" there keeps cursor (the list has nothing after it yet), never starts the list
// again. Items seen, and items the filter turns down, do not count toward max_items: a
// list whose new items come after more than max_items it has started still has them
// started, a poll after another. On an error, the answer holds the items of the pages
// read before it, which a Poller whose pages' end cut the next one starts. Fetch
// changes nothing: a Poller starts the runs, hookflow run --poll shows them.
func (poll *Poll) Fetch(ctx context.Context, wf *workflows.Workflow, cursor any, at string, look Look) (*Answer, error) {
	pollValue := map[string]any{"cursor": cursor, "time": at}
	// The request's Idempotency-Key is <workflow>@<poll time>:poll, one per tick. A
	// poll's first may send several in its tick, each with another cursor, asking for
	// another part of the list: each has a key of its own (and a turn of its own at its
	// api's rate limit), the same for the same cursor, as when it is sent again after
	// the api's limits held it back.
	step := "poll"
	if look.Record && cursor != nil {
		raw, _ := json.Marshal(cursor)
		sum := sha256.Sum256(raw)
		step += ":" + hex.EncodeToString(sum[:6])
	}
	call := &workflows.Call{Env: &workflows.Env{Vars: wf.Vars, Poll: pollValue}, RunID: wf.Name + "@" + at,
		Workflow: wf.Name, Step: step, Attempt: 1, Secrets: wf.Secrets, RequestTimeout: poll.Timeout}
	ans := &Answer{}
	resp, err := poll.pages(ctx, wf, call, look, ans)
	if call.Sent != nil {
		ans.Sent = append(slices.Clip(call.SentBefore), call.Sent)
	}
	if err != nil {
		return ans, withAnswer(err, call.Sent)
	}
	if poll.Cursor != nil {
		if ans.Cursor, err = expr.Run(poll.Cursor, answerEnv{Response: resp, Poll: pollValue, Vars: wf.Vars}); err != nil {
			return ans, fmt.Errorf("%w: cursor: %w", errPoll, err)
		}
		if ans.Cursor == nil || ans.Cursor == "" {
			ans.Cursor, ans.CursorKept = cursor, true
		}
	}
	return ans, nil
}

// pages reads the poll's items into ans, from the API's answer or its pages with a
// paginate block, and returns the last answer read, which the cursor reads.
func (poll *Poll) pages(ctx context.Context, wf *workflows.Workflow, call *workflows.Call, look Look, ans *Answer) (map[string]any, error) {
	at, _ := call.Env.Poll["time"].(string)
	read := func(resp map[string]any, page int) error {
		v, err := expr.Run(poll.Items, answerEnv{Response: resp, Poll: call.Env.Poll, Vars: wf.Vars})
		if _, text := resp["body"].(string); err != nil && text {
			// What an http step's reference says of it: the answer is no JSON. The
			// expression's own error (an operation on a string) would say no more.
			ct, _ := headerOf(resp, "content-type")
			return fmt.Errorf("%w: %s: items: response.body is text, which has no fields: the answer is not JSON, "+
				"or does not say it is (Content-Type %q)%s", errPoll, poll.asked(call, page), ct, itsAnswer(resp, call.Secrets))
		}
		if err != nil {
			return fmt.Errorf("%w: %s: items: %w", errPoll, poll.asked(call, page), err)
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%w: %s: items: %s gave %s, not a list (%s)%s", errPoll, poll.asked(call, page), poll.itemsSrc,
				workflows.KindOf(v), contentType(resp), itsAnswer(resp, call.Secrets))
		}
		return poll.sort(ctx, wf, look, ans, list, page, at, func() string { return poll.asked(call, page) }, call.Secrets)
	}
	if pg, ok := poll.Request.(pager); ok && pg.Paginate() != nil {
		last, next, err := pg.Pages(ctx, call, func(page *workflows.PageEnv) (bool, error) {
			if err := read(page.Response, page.Page); err != nil {
				return false, err
			}
			if ans.Starts >= poll.MaxItems && !look.Record {
				// The pages after are not read: whatever new items they hold are left
				// for a later poll, as if they were cut.
				ans.Cut = CutMaxItems
			}
			if ans.Cut == "" && look.More != nil && !look.Record && page.Page < pg.Paginate().MaxPages {
				// Cut with time left to start the items of the pages read, rather than
				// lost with them at the poll's bound, when a page comes after them
				// (see pageTimes).
				if next, err := pg.Paginate().Next.Eval(page); err == nil && next != nil && next != "" && !look.More() {
					ans.Cut = CutTime
				}
			}
			return ans.Cut == "", nil
		})
		if err == nil && next != "" && ans.Cut == "" {
			ans.Cut = CutMaxPages
		}
		return last, err
	}
	out, err := poll.Request.Do(ctx, call)
	if err != nil {
		return nil, err
	}
	resp, _ := out.(map[string]any)
	return resp, read(resp, 1)
}

// sort adds the items of one page to ans, each with its key and what the poll does
// with it: the new ones start runs up to max_items in all, and the new ones past
// them are cut. asked says which request the page answered, for errors, and secrets
// hides the workflow's secrets in the item an error shows.
func (poll *Poll) sort(ctx context.Context, wf *workflows.Workflow, look Look, ans *Answer, list []any, page int, at string,
	asked func() string, secrets *workflows.Redactor) error {
	keys := make([]string, len(list))
	for i, item := range list {
		k, err := expr.Run(poll.ItemKey, itemEnv{Item: item, Vars: wf.Vars})
		if err != nil {
			return fmt.Errorf("%w: %s: key of %s: %w", errPoll, asked(), poll.itemAt(i), err)
		}
		if k == nil || workflows.Text(k) == "" {
			gave := "nil"
			if k != nil {
				gave = fmt.Sprintf("%q", workflows.Text(k))
			}
			return fmt.Errorf("%w: %s: %s has no key: %s gave %s; the item: %s", errPoll, asked(), poll.itemAt(i),
				poll.keySrc, gave, shown(item, secrets))
		}
		keys[i] = "poll:" + workflows.Text(k)
	}
	seen := make([]bool, len(list))
	if look.Seen != nil && len(list) > 0 {
		var err error
		if seen, err = look.Seen(ctx, keys); err != nil {
			return fmt.Errorf("reading the items seen: %w", err)
		}
	}
	for i, item := range list {
		f := Found{Value: item, Key: keys[i], Page: page}
		switch {
		case seen[i]:
			f.Status = ItemSeen
		case look.Record:
			f.Status = ItemRecorded
		case ans.Starts >= poll.MaxItems:
			f.Status, ans.Cut = ItemCut, CutMaxItems
		default:
			if err := poll.filter(wf, look, &f, at); err != nil {
				return err
			}
		}
		if f.Status.Starts() {
			ans.Starts++
		}
		ans.Items = append(ans.Items, f)
	}
	return nil
}

// filter tells whether a new item starts a run: the workflow's filter, with
// look.Filter, says. Its event is made for the filter only: without one, the item's
// run makes it (Poll.ItemEvent).
func (poll *Poll) filter(wf *workflows.Workflow, look Look, f *Found, at string) error {
	f.Status = ItemNew
	if !look.Filter || wf.Filter == nil {
		return nil
	}
	ev, err := poll.ItemEvent(f.Value, at, f.Page, look.Now)
	if err != nil {
		return fmt.Errorf("%w: item %s: %w", errPoll, f.Key, err)
	}
	ok, ferr := wf.Filter.Eval(&workflows.Env{Event: ev.Value(), Vars: wf.Vars})
	switch {
	case ferr != nil:
		f.Status, f.Event, f.Failure = ItemFilterFails, ev, "filter: "+ferr.Error()
	case ok:
		f.Event = ev
	default:
		f.Status = ItemFiltered // looked at again next poll: the item may change
	}
	return nil
}

// asked is what a poll's error says of the request whose answer it could not read,
// as an http step's error says it: its method and URL, secrets redacted, after its
// page for a poll with a paginate block ("page 2: GET https://…").
func (poll *Poll) asked(call *workflows.Call, page int) string {
	s := "the request"
	if sent := call.Sent; sent != nil {
		s = sent.Method + " " + sent.URL
	}
	if poll.paginates() {
		s = fmt.Sprintf("page %d: %s", page, s)
	}
	return s
}

// itemAt names the item at index i of a page's list, as an error says it: "item 3",
// "item 3 of the page" for a poll with a paginate block.
func (poll *Poll) itemAt(i int) string {
	if poll.paginates() {
		return fmt.Sprintf("item %d of the page", i)
	}
	return fmt.Sprintf("item %d", i)
}

// contentType is what a poll's error says of an answer's content type.
func contentType(resp map[string]any) string {
	if ct, ok := headerOf(resp, "content-type"); ok {
		return fmt.Sprintf("Content-Type %q", ct)
	}
	return "no Content-Type"
}

// itsAnswer is what a poll's error quotes of an answer its items cannot be read from
// (a login page answered 200), as withAnswer quotes one of a status not expected:
// "; it answered: " and the start of its body, the workflow's secrets redacted; ""
// for an empty body.
func itsAnswer(resp map[string]any, secrets *workflows.Redactor) string {
	switch b := resp["body"].(type) {
	case nil:
		return ""
	case string:
		if b == "" {
			return ""
		}
	}
	return "; it answered: " + shown(resp["body"], secrets)
}

// shown is the start of a value of an answer on one line, as excerpt cuts it: text
// as it is, another value as JSON, the workflow's secrets redacted in every form an
// API repeats them.
func shown(v any, secrets *workflows.Redactor) string {
	secrets = secrets.Encoded()
	if s, ok := v.(string); ok {
		return excerpt(secrets.String(s), len(s))
	}
	s := workflows.RecordJSON(v, secrets)
	return excerpt(s, len(s))
}

// headerOf returns a header of an answer, as the http action gives them (lower case).
func headerOf(resp map[string]any, name string) (string, bool) {
	headers, _ := resp["headers"].(map[string]any)
	v, ok := headers[name].(string)
	return v, ok
}

// paginates reports whether the poll reads its list page by page.
func (poll *Poll) paginates() bool {
	pg, ok := poll.Request.(pager)
	return ok && pg.Paginate() != nil
}

// listEnds reports whether the answer of a poll sent with cursor shows the end of its
// list, as a poll's first reads on to it: the API says so. Its cursor is nil, "" or
// the one sent (the next poll would ask for the same: Fetch keeps the one sent for
// nil and ""), or, with paginate, its pages ended before max_pages. An answer with no
// items is not the end when its cursor moved on: an API that hides some of its items
// (Slack's) may answer a page of none, and a cursor to the next. Without a cursor
// every poll asks for the same, so each answer is the end: with paginate, the pages
// past max_pages are never read.
func (poll *Poll) listEnds(ans *Answer, cursor any) bool {
	switch {
	case poll.Cursor == nil, ans.Cursor == nil:
		return true
	case poll.paginates() && ans.Cut != CutMaxPages:
		return true
	}
	return sameJSON(ans.Cursor, cursor)
}

// sameJSON reports whether two values are the same as JSON: a cursor an expression
// made may hold a number as float64 where the one read back from Redis holds an int.
func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

// answered is the error of an answer whose status the request did not expect, with
// the answer's body as the run history would keep it, redacted (actions.StatusError).
type answered interface {
	error
	Answer() (body string, size int)
}

// withAnswer adds the start of the answer's body to the error of a poll that the API
// answered with a status it does not expect ({"error":"database down"}): a poll has
// no run history where the answer could be read, and its error is what the log, the
// admin API, hookflow workflows and hookflow status show. The whole body is kept in
// sent, the request that got it, for hookflow run --poll to show.
func withAnswer(err error, sent *workflows.Request) error {
	var a answered
	if !errors.As(err, &a) {
		return err
	}
	body, size := a.Answer()
	if body == "" {
		return err
	}
	if sent != nil && sent.Response == nil {
		sent.Response = &workflows.Response{Body: body}
	}
	return fmt.Errorf("%w; it answered: %s", err, excerpt(body, size))
}

// maxExcerpt is how much of an answer's body a poll's error shows.
const maxExcerpt = 200

// excerpt is the start of a body (redacted already) on one line, at most maxExcerpt
// bytes of it, saying when it is cut: its line breaks and runs of spaces are one
// space, its other control characters and invalid UTF-8 shown as U+FFFD. size is the
// body's length as it came.
func excerpt(body string, size int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(body, "\uFFFD") {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r):
			r = utf8.RuneError
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > maxExcerpt {
			return fmt.Sprintf("%s… [cut: the body is %d bytes; the first %d are shown]", b.String(), max(size, len(body)), b.Len())
		}
		b.WriteRune(r)
	}
	return b.String()
}
