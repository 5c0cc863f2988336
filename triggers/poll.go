package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/id"
	"github.com/hookflow/hookflow/workflows"
)

// Poll is a compiled trigger "poll": an API asked on a schedule for a list, each new
// item of which starts a run.
type Poll struct {
	Schedule   *Schedule
	Request    workflows.Action // an http step's request: url, api, method, query, headers, json
	Items      *vm.Program      // over response: the list of items
	ItemKey    *vm.Program      // over item: what makes an item new
	Cursor     *vm.Program      // over response: kept for the next poll; nil: none
	SeenWindow time.Duration
	MaxItems   int
	Backfill   bool
	// Timeout bounds each request of the poll (each page): its timeout, else its
	// api's, else a step's default.
	Timeout time.Duration
	key     string
	// formerKey is the key the poll had when keys named the schedule too: its state
	// from then is read there (see LastState).
	formerKey string
	// method, url (up to its first {{ }}) and api: what it asks, for its summary
	method, url, api string
	// itemsSrc and keySrc are the items and key expressions as written, for errors.
	itemsSrc, keySrc string
}

// pager is the request of a poll that reads its list page by page: an http step's
// with a paginate block (see actions.HTTP.Pages).
type pager interface {
	Paginate() *workflows.Paginate
	Pages(ctx context.Context, c *workflows.Call, each func(page *workflows.PageEnv) (bool, error)) (last map[string]any, next string, err error)
}

// answerEnv is what a poll's items and cursor read: the API's answer (each page's for
// items, the last page read's for cursor), the poll, and vars.
type answerEnv struct {
	Response map[string]any `expr:"response"`
	Poll     map[string]any `expr:"poll"`
	Vars     map[string]any `expr:"vars"`
}

// itemEnv is what a poll's key reads: one item, and vars. Nothing else: the answer is
// the same for every item of a poll, and poll changes from one poll to the next.
type itemEnv struct {
	Item any            `expr:"item"`
	Vars map[string]any `expr:"vars"`
}

// pollExprs are a poll's expressions: what each reads, and an example of it.
var pollExprs = []struct {
	name, example string
	env           any
	reads         []string
}{
	{"items", `items = "response.body.orders"`, answerEnv{}, []string{"response", "poll", "vars"}},
	{"key", `key = "item.id"`, itemEnv{}, []string{"item", "vars"}},
	{"cursor", `cursor = "response.body.next_cursor"`, answerEnv{}, []string{"response", "poll", "vars"}},
}

// Key names the poll by what it asks: its method, api, url (up to its first {{ }}),
// json, and the items and key it reads from the answer. Its query and headers are not
// part of it: two polls of one workflow that differ only there are a load error
// (checkPolls). It names the poll's last tick and its cursor in Redis; a poll
// whose request changes is a new one, whose first poll records what is there. The
// schedule is not part of it: it says when the poll asks, not which items there are,
// so a poll whose every or cron changes keeps its cursor and goes on from its last
// tick.
func (p *Poll) Key() string { return p.key }

// states is where the state of polls is kept (the engine).
type states interface {
	PollState(ctx context.Context, wf *workflows.Workflow, poll string) (st workflows.PollState, found bool, err error)
}

// LastState returns what the poll kept after its last good poll, found false before
// its first. A poll with nothing under its key reads what was kept under its key of
// before, which named its schedule too: a poll goes on from where it was across the
// upgrade that changed its key, rather than record what is there as if it were new.
func (p *Poll) LastState(ctx context.Context, c states, wf *workflows.Workflow) (st workflows.PollState, found bool, err error) {
	st, found, err = c.PollState(ctx, wf, p.key)
	if err != nil || found {
		return st, found, err
	}
	return c.PollState(ctx, wf, p.formerKey)
}

// lastTicks is where the last ticks of polls are kept (the engine).
type lastTicks interface {
	LastTickFrom(ctx context.Context, wf *workflows.Workflow, schedule, former string) (time.Time, error)
}

// LastTick returns the last tick of the poll claimed. A poll with none under its key
// takes the one kept under its key of before, which named its schedule too: a tick
// missed while no process ran is polled after the upgrade that changed the key, as
// after a restart.
func (p *Poll) LastTick(ctx context.Context, c lastTicks, wf *workflows.Workflow) (time.Time, error) {
	return c.LastTickFrom(ctx, wf, p.key, p.formerKey)
}

// DefaultSeenWindow is how long an item's key is remembered when the poll does not
// say.
const DefaultSeenWindow = 30 * 24 * time.Hour

// seenWindowWarning warns of a seen_window no longer than the time between two polls:
// by the next poll, the keys of the items are forgotten, and an item that the list
// still holds (one that keeps what it listed, or one at the cursor's very second)
// starts a run again at every poll.
func seenWindowWarning(b *workflows.Block, sched *Schedule, window time.Duration) hcl.Diagnostics {
	gap, between := sched.Every, "every "+workflows.FormatDuration(sched.Every)
	if sched.Cron != nil {
		gap = sched.longestGap()
		between = "at ticks up to " + workflows.FormatDuration(gap) + " apart (" + sched.Spec + ")"
	}
	if gap <= 0 || window > gap {
		return nil
	}
	a, set := b.Attr("seen_window"), "seen_window"
	if a == nil {
		a, set = b.Attr("every"), "seen_window's default"
		if a == nil {
			a = b.Attr("cron")
		}
	}
	return hcl.Diagnostics{a.Warning("A poll's seen_window is no longer than its interval",
		fmt.Sprintf("The poll asks %s, and remembers an item's key for %s (%s) after its run starts: by the next poll the key "+
			"is forgotten, and an item the list still holds then (a list that keeps what it listed, an item at the cursor's "+
			"very second) starts another run, at every poll. Make seen_window longer than the interval by far, as long as "+
			"the list keeps an item", between, workflows.FormatDuration(window), set))}
}

// DefaultMaxItems is the most items one poll starts runs for.
const DefaultMaxItems = 1000

func pollKind(http workflows.StepKind, now func() time.Time) workflows.TriggerKind {
	return workflows.TriggerKind{
		Name: "poll",
		Attrs: []workflows.Attr{
			{Name: "every"}, {Name: "cron"}, {Name: "timezone"},
			{Name: "url", Required: true}, {Name: "api"}, {Name: "method"}, {Name: "query"}, {Name: "headers"}, {Name: "json"},
			{Name: "items", Required: true}, {Name: "key", Required: true}, {Name: "cursor"},
			{Name: "seen_window"}, {Name: "max_items"}, {Name: "backfill"}, {Name: "timeout"},
		},
		Blocks: []workflows.BlockType{{Type: "paginate"}},
		// The request is sent for a tick, before any item is an event.
		Reads: []string{"poll", "vars"},
		Where: "a poll's request",
		New: func(b *workflows.Block) (any, hcl.Diagnostics) {
			return newPoll(b, http, now())
		},
		Check: checkPolls,
	}
}

func newPoll(b *workflows.Block, http workflows.StepKind, now time.Time) (*Poll, hcl.Diagnostics) {
	p := &Poll{}
	var diags, d hcl.Diagnostics
	p.Schedule, diags = newSchedule(b, now)
	p.Request, d = http.New(b)
	diags = append(diags, d...)
	if pg, ok := p.Request.(pager); ok && pg.Paginate() != nil && pg.Paginate().Items != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A poll's paginate takes no items",
			Detail:  "The poll's own items attribute reads the items of every page: move it out of the paginate block.",
			Subject: pg.Paginate().DefRange.Ptr()})
	}
	p.SeenWindow, d = b.Duration("seen_window", DefaultSeenWindow)
	diags = append(diags, d...)
	if !diags.HasErrors() {
		diags = append(diags, seenWindowWarning(b, p.Schedule, p.SeenWindow)...)
	}
	p.MaxItems, d = b.Int("max_items", DefaultMaxItems, 1, 100_000)
	diags = append(diags, d...)
	p.Backfill, d = b.Bool("backfill", false)
	diags = append(diags, d...)
	// As a step's: its own timeout wins over its api's.
	timeout := workflows.DefaultStepTimeout
	if a := b.API(); a != nil && a.Timeout > 0 {
		timeout = a.Timeout
	}
	p.Timeout, d = b.Duration("timeout", timeout)
	diags = append(diags, d...)
	srcs := map[string]string{}
	for _, x := range pollExprs {
		a := b.Attr(x.name)
		if a == nil {
			continue
		}
		src, d := b.ConstString(x.name, "")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		src = strings.TrimSpace(src)
		if strings.HasPrefix(src, "{{") {
			diags = append(diags, a.Error(x.name+" is written as a template",
				fmt.Sprintf("It is a bare expression: drop the {{ }} and write, for example, %s.", x.example)))
			continue
		}
		prog, err := expr.Compile(src, expr.Env(x.env), expr.MaxNodes(10_000), workflows.NilSafe(), workflows.MapsInOrder())
		if err != nil {
			diags = append(diags, pollExprError(a, x.name, x.example, x.reads, src, err))
			continue
		}
		d = a.CheckVars(prog, src) // warnings in a stored version
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if x.name == "items" {
			if d := itemsType(prog, src, a); d != nil {
				diags = append(diags, d)
				continue
			}
		}
		srcs[x.name] = src
		switch x.name {
		case "items":
			p.Items = prog
		case "key":
			p.ItemKey = prog
		case "cursor":
			p.Cursor = prog
		}
	}
	method := "GET"
	if b.Attr("json") != nil {
		method = "POST" // as the http step's request: a body is sent with POST unless method says
	}
	method, _ = b.ConstString("method", method)
	api, _ := b.ConstString("api", "")
	url := ""
	if a := b.Attr("url"); a != nil {
		url = a.Template.LiteralPrefix()
	}
	asks := []string{strings.ToUpper(method), api, url, srcs["items"], srcs["key"]}
	if a := b.Attr("json"); a != nil {
		asks = append(asks, a.Template.Source()) // a poll without json keeps the key it had
	}
	sum := sha256.Sum256([]byte(strings.Join(asks, "\x00")))
	p.key = "poll " + hex.EncodeToString(sum[:8])
	p.formerKey = "poll " + p.Schedule.Key() + " " + hex.EncodeToString(sum[:8])
	p.method, p.url, p.api = strings.ToUpper(method), url, api
	p.itemsSrc, p.keySrc = srcs["items"], srcs["key"]
	return p, diags
}

// itemsType reports an items expression whose type, known when the file loads, is not
// a list: len(response.body.orders), a string or a bool. The response is typed only
// when it arrives, so response.body.orders is checked then.
func itemsType(prog *vm.Program, src string, a *workflows.BlockAttr) *hcl.Diagnostic {
	if _, isNil := prog.Node().(*ast.NilNode); isNil {
		return a.Error("items does not give a list", `"nil" gives nil. items is the list of the items of the response, such as "response.body.orders".`)
	}
	t := prog.Node().Type()
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Slice, reflect.Array:
		return nil
	}
	return a.Error("items does not give a list",
		fmt.Sprintf(`%q gives %s. items is the list of the items of the response, such as "response.body.orders".`, src, workflows.TypeKind(t)))
}

// ItemEvent is the event of the run an item starts: event.body the item, as the run
// reads it back from its record, event.poll the poll's time (RFC 3339) and the page
// the item came on (1 without paginate). now is when the poll received it.
func (p *Poll) ItemEvent(item any, at string, page int, now time.Time) (*workflows.Event, error) {
	raw, err := json.Marshal(item)
	if err != nil {
		return nil, err
	}
	body, err := workflows.ParseBody("application/json", raw)
	if err != nil {
		return nil, err
	}
	return &workflows.Event{ID: id.New(), Trigger: "poll", ReceivedAt: now.UTC(),
		ContentType: "application/json", Raw: string(raw), Body: body, Poll: map[string]any{"time": at, "page": page}}, nil
}

// pollExprError explains an expression of a poll that does not compile. The usual
// slip is a name the expression cannot read where it is evaluated: a cursor read from
// item, which is nil then, or a key read from the response, which gives every item
// the same key.
func pollExprError(a *workflows.BlockAttr, name, example string, reads []string, src string, err error) *hcl.Diagnostic {
	d := a.ExprError(err, src)
	quoted, isName := strings.CutPrefix(d.Summary, "Unknown name ")
	if !isName {
		if d.Summary == "Invalid expression" {
			d.Summary = fmt.Sprintf("Invalid %s expression", name)
		}
		return d
	}
	unknown, _ := strconv.Unquote(quoted)
	can := fmt.Sprintf("%s reads %s: write, for example, %s.", name, readsText(reads), example)
	switch {
	case name == "key" && unknown == "response":
		d.Summary = "A poll's key cannot read response"
		d.Detail = "The response is the same for every item of a poll: a key read from it gives them all one key, so one " +
			"of them starts a run and the others never do. A key names one item. " + can
	case name == "key" && unknown == "poll":
		d.Summary = "A poll's key cannot read poll"
		d.Detail = "poll.cursor and poll.time change from one poll to the next: a key read from them makes every item " +
			"new again at each poll, and start another run. A key names one item. " + can
	case name == "items" && unknown == "item":
		d.Summary = "A poll's items cannot read item"
		d.Detail = "item is one item of the list that items gives, which key reads. " + can
	case name == "cursor" && unknown == "item":
		d.Summary = "A poll's cursor cannot read item"
		d.Detail = "item is one item of the list, which key reads. The cursor is read once a poll, from the answer " +
			"(its last page read), where there is no item: a cursor read from one would be nil, and never move. " + can
	default:
		d.Detail = fmt.Sprintf("%q is none of the names a poll's %s reads. %s", unknown, name, can)
	}
	return d
}

// readsText lists the names a poll's expression reads, as a sentence does.
func readsText(reads []string) string {
	var names []string
	for _, n := range reads {
		if n == "poll" {
			names = append(names, "poll.cursor", "poll.time")
		} else {
			names = append(names, n)
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
