package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
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
	Request    workflows.Action // an http step's request: url, api, method, query, headers
	Items      *vm.Program      // over response: the list of items
	ItemKey    *vm.Program      // over item: what makes an item new
	Cursor     *vm.Program      // over response: kept for the next poll; nil: none
	SeenWindow time.Duration
	MaxItems   int
	Backfill   bool
	key        string
	// method, url (up to its first {{ }}) and api: what it asks, for its summary
	method, url, api string
}

// pager is the request of a poll that reads its list page by page: an http step's
// with a paginate block (see actions.HTTP.Pages).
type pager interface {
	Paginate() *workflows.Paginate
	Pages(ctx context.Context, c *workflows.Call, each func(page *workflows.PageEnv) (bool, error)) (last map[string]any, next string, err error)
}

// pollEnv is what a poll's expressions read: items and cursor the response,
// key the item.
type pollEnv struct {
	Response map[string]any `expr:"response"`
	Item     any            `expr:"item"`
	Poll     map[string]any `expr:"poll"`
	Vars     map[string]any `expr:"vars"`
}

// Key names the poll: its schedule and what it asks. It names the poll's last tick and
// its cursor in Redis; a poll whose request changes is a new one, whose first poll
// records what is there.
func (p *Poll) Key() string { return p.key }

// DefaultMaxItems is the most items one poll starts runs for.
const DefaultMaxItems = 1000

func pollKind(http workflows.StepKind) workflows.TriggerKind {
	return workflows.TriggerKind{
		Name: "poll",
		Attrs: []workflows.Attr{
			{Name: "every"}, {Name: "cron"}, {Name: "timezone"},
			{Name: "url", Required: true}, {Name: "api"}, {Name: "method"}, {Name: "query"}, {Name: "headers"},
			{Name: "items", Required: true}, {Name: "key", Required: true}, {Name: "cursor"},
			{Name: "seen_window"}, {Name: "max_items"}, {Name: "backfill"},
		},
		Blocks: []workflows.BlockType{{Type: "paginate"}},
		// The request is sent for a tick, before any item is an event.
		Reads: []string{"poll", "vars"},
		Where: "a poll's request",
		New: func(b *workflows.Block) (any, hcl.Diagnostics) {
			return newPoll(b, http)
		},
	}
}

func newPoll(b *workflows.Block, http workflows.StepKind) (*Poll, hcl.Diagnostics) {
	p := &Poll{}
	var diags, d hcl.Diagnostics
	p.Schedule, diags = newSchedule(b)
	p.Request, d = http.New(b)
	diags = append(diags, d...)
	if pg, ok := p.Request.(pager); ok && pg.Paginate() != nil && pg.Paginate().Items != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A poll's paginate has no items",
			Detail:  "The poll's own items attribute reads the items of every page: move it out of the paginate block.",
			Subject: pg.Paginate().DefRange.Ptr()})
	}
	p.SeenWindow, d = b.Duration("seen_window", 30*24*time.Hour)
	diags = append(diags, d...)
	p.MaxItems, d = b.Int("max_items", DefaultMaxItems, 1, 100_000)
	diags = append(diags, d...)
	p.Backfill, d = b.Bool("backfill", false)
	diags = append(diags, d...)
	srcs := map[string]string{}
	for _, name := range []string{"items", "key", "cursor"} {
		a := b.Attr(name)
		if a == nil {
			continue
		}
		src, d := b.ConstString(name, "")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		src = strings.TrimSpace(src)
		if strings.HasPrefix(src, "{{") {
			diags = append(diags, a.Error(name+" is written as a template",
				`It is a bare expression: drop the {{ }} and write, for example, items = "response.body.orders".`))
			continue
		}
		prog, err := expr.Compile(src, expr.Env(pollEnv{}), expr.MaxNodes(10_000), workflows.NilSafe())
		if err != nil {
			diags = append(diags, a.Error(fmt.Sprintf("Invalid %s expression", name),
				err.Error()+"\nitems and cursor read the response (response.body, response.headers, response.status), key reads item."))
			continue
		}
		if name == "items" {
			if d := itemsType(prog, src, a); d != nil {
				diags = append(diags, d)
				continue
			}
		}
		srcs[name] = src
		switch name {
		case "items":
			p.Items = prog
		case "key":
			p.ItemKey = prog
		case "cursor":
			p.Cursor = prog
		}
	}
	method, _ := b.ConstString("method", "GET")
	api, _ := b.ConstString("api", "")
	url := ""
	if a := b.Attr("url"); a != nil {
		url = a.Template.LiteralPrefix()
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{strings.ToUpper(method), api, url, srcs["items"], srcs["key"]}, "\x00")))
	p.key = "poll " + p.Schedule.Key() + " " + hex.EncodeToString(sum[:8])
	p.method, p.url, p.api = strings.ToUpper(method), url, api
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
