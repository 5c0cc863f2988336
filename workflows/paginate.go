package workflows

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// DefaultMaxPages is how many pages a paginate block reads when it does not set
// max_pages; MaxMaxPages bounds max_pages.
const (
	DefaultMaxPages = 100
	MaxMaxPages     = 10_000
)

// Paginate is a compiled paginate {} block: how a request that answers with one page
// of a list finds the next page, and the items of each page. An http step and a poll
// trigger share it.
type Paginate struct {
	// Next gives the next page's URL from a page: absolute, or relative to the page's
	// own URL; nil (or "") when the page was the last.
	Next *PageExpr
	// Items gives a page's items, a list; nil when the block does not set it (a poll
	// trigger's own items attribute reads each page).
	Items *PageExpr
	// MaxPages is the most pages read; the pages past it are not (see Pages).
	MaxPages int
	DefRange hcl.Range
}

// PageStore keeps the pages a paginated step has read, where its next lease finds them:
// a step that its api's limits hold back before a page is handed back to the queue, as
// the first page is, and goes on from that page when it is leased again; a step whose
// worker died goes on from the page it was reading. What is kept lasts one attempt: a
// retry reads the list again from the first page.
type PageStore interface {
	// Kept returns the pages kept, in order, and the response of the last of them;
	// none when the step has read no page yet.
	Kept(ctx context.Context) ([]KeptPage, map[string]any, error)
	// Keep keeps one more page, with its response. It fails when the step's job is no
	// longer the caller's.
	Keep(ctx context.Context, p KeptPage, response map[string]any) error
}

// KeptPage is a page a paginated step read, as its PageStore keeps it.
type KeptPage struct {
	Page  int    // 1 for the first
	URL   string // where it was read, as sent
	Next  string // the URL of the page after it
	Items []any  // the items it gave
	// Request is the page's request as the run history records it; nil for a page
	// kept whose request the history no longer keeps (it keeps the latest).
	Request *Request
}

// PageEnv is what a paginate block's expressions read: the page's response
// ({status, headers, body}), its request ({url, method}), the page's number (1 for the
// first), and what every run-time expression reads.
type PageEnv struct {
	Event    map[string]any `expr:"event"`
	Steps    map[string]any `expr:"steps"`
	Vars     map[string]any `expr:"vars"`
	Run      map[string]any `expr:"run"`
	Each     map[string]any `expr:"each"`
	Poll     map[string]any `expr:"poll"`
	Response map[string]any `expr:"response"`
	Request  map[string]any `expr:"request"`
	Page     int            `expr:"page"`
}

// NewPageEnv is the environment of a page: what env reads, and the page.
func NewPageEnv(env *Env, response map[string]any, method, url string, page int) *PageEnv {
	pe := &PageEnv{Response: response, Request: map[string]any{"url": url, "method": method}, Page: page}
	if env != nil {
		pe.Event, pe.Steps, pe.Vars, pe.Run, pe.Each, pe.Poll = env.Event, env.Steps, env.Vars, env.Run, env.Each, env.Poll
	}
	return pe
}

var pageOptions = append([]exprOption{expr.Env(PageEnv{}), expr.MaxNodes(maxNodes), NilSafe()}, functions...)

// PageExpr is a compiled expression of a paginate block.
type PageExpr struct {
	Source string
	prog   *vm.Program
}

// Eval evaluates the expression over a page.
func (e *PageExpr) Eval(env *PageEnv) (any, error) {
	v := vms.Get().(*vm.VM)
	out, err := v.Run(e.prog, env)
	vms.Put(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Source, err)
	}
	return out, nil
}

// pageRoots are the names a paginate expression can start with.
var pageRoots = append([]string{"response", "request", "page"}, roots...)

// pagedOutput are the fields a paginate block adds to its step's output.
var pagedOutput = []string{"items", "pages", "next"}

var paginateAttrs = []Attr{{Name: "next", Required: true}, {Name: "items"}, {Name: "max_pages"}}

// Paginate decodes the block's paginate {} block: nil when it has none. Its
// expressions are compiled now, and every mistake is a diagnostic at its place.
func (b *Block) Paginate() (*Paginate, hcl.Diagnostics) {
	raws := b.Nested("paginate")
	if len(raws) == 0 {
		return nil, nil
	}
	var diags hcl.Diagnostics
	for _, dup := range raws[1:] {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate paginate block",
			Detail:  fmt.Sprintf("A %s has one paginate block; the first is at %s.", b.Kind, raws[0].DefRange),
			Subject: dup.DefRange.Ptr()})
	}
	// An attribute Decode reports (unknown, or failed) is not in blk: the others are
	// still checked.
	blk, d := b.Decode(raws[0], paginateAttrs)
	diags = append(diags, d...)
	p := &Paginate{DefRange: raws[0].DefRange}
	p.MaxPages, d = blk.Int("max_pages", DefaultMaxPages, 1, MaxMaxPages)
	diags = append(diags, d...)
	p.Next, d = blk.pageExpr("next", `next = "response.body.next"`, "a URL", reflect.String)
	diags = append(diags, d...)
	p.Items, d = blk.pageExpr("items", `items = "response.body.data"`, "a list", reflect.Slice, reflect.Array)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// pageExpr compiles a paginate attribute: bare expr source in a string, over PageEnv,
// giving what (a URL, a list): an expression whose type, known when the file loads, is
// none of kinds is an error, as it would fail every page. The response is typed only
// when it arrives, so response.body.data is checked then.
func (b *Block) pageExpr(name, example, what string, kinds ...reflect.Kind) (*PageExpr, hcl.Diagnostics) {
	a := b.attrs[name]
	if a == nil {
		return nil, nil
	}
	src, diags := b.ConstString(name, "")
	if diags.HasErrors() {
		return nil, diags
	}
	trimmed := strings.TrimSpace(src)
	switch {
	case strings.HasPrefix(trimmed, "{{") && strings.HasSuffix(trimmed, "}}"):
		return nil, hcl.Diagnostics{a.Error(name+" is written as a template",
			fmt.Sprintf("It is a bare expression over the page's response: drop the {{ }} and write, for example, %s.", example))}
	case trimmed == "":
		return nil, hcl.Diagnostics{a.Error("Empty "+name, fmt.Sprintf("Write an expression over the page's response, such as %s.", example))}
	}
	loc := a.loc
	loc.value = src
	prog, err := loc.compiler().compilePage(src)
	if err != nil {
		d := exprDiag(err, src, 0, loc)
		if name, ok := strings.CutPrefix(d.Summary, "Unknown name "); ok {
			name, _ = strconv.Unquote(name)
			d.Detail = fmt.Sprintf("A paginate expression reads the page: response, request and page, beside event, steps, vars and run; %q is none of them.", name)
			if s := suggest(name, pageRoots); s != "" {
				d.Detail = fmt.Sprintf("A paginate expression reads the page: response, request and page, beside event, steps, vars and run. Did you mean %q?", s)
			}
		}
		return nil, hcl.Diagnostics{d}
	}
	diags = checkRefs(prog, src, 0, loc)
	if diags.HasErrors() {
		return nil, diags
	}
	if t := prog.Node().Type(); t != nil && t.Kind() != reflect.Interface && !slices.Contains(kinds, t.Kind()) {
		d := a.loc.mistake(a.Error(fmt.Sprintf("%s does not give %s", name, what),
			fmt.Sprintf("%q gives %s, and %s is %s read from each page, such as %s.", trimmed, kindOf(t), name, what, example)))
		loc.hidingSecrets(hcl.Diagnostics{d}, 0, len(src))
		if d.Severity == hcl.DiagError {
			return nil, hcl.Diagnostics{d}
		}
		diags = append(diags, d) // a stored version's: the step fails at its first page
	}
	return &PageExpr{Source: src, prog: prog}, diags
}

// pageFunctions help write a paginate block's next for the common schemes.
var pageFunctions = []expr.Option{
	// link_next(response) is the URL of the Link header's rel="next" (RFC 8288), as
	// GitHub and many others page; nil when there is none.
	expr.Function("link_next", func(p ...any) (any, error) {
		r, _ := p[0].(map[string]any)
		h, _ := r["headers"].(map[string]any)
		link, _ := h["link"].(string)
		if next := LinkNext(link); next != "" {
			return next, nil
		}
		return nil, nil
	}, new(func(map[string]any) any)),
	// with_query(url, {name = value}) is url with those query parameters set (others
	// kept); nil when any value is nil or "", the end of a cursor.
	expr.Function("with_query", func(p ...any) (any, error) {
		raw, _ := p[0].(string)
		params, _ := p[1].(map[string]any)
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("with_query: not a URL: %w", err)
		}
		q := u.Query()
		for k, v := range params {
			if v == nil || Text(v) == "" {
				return nil, nil
			}
			q.Set(k, Text(v))
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}, new(func(string, map[string]any) any)),
}

// LinkNext returns the target of the rel="next" link of a Link header's value; "" for
// none.
func LinkNext(header string) string {
	for header != "" {
		start := strings.IndexByte(header, '<')
		if start < 0 {
			return ""
		}
		end := strings.IndexByte(header[start:], '>')
		if end < 0 {
			return ""
		}
		target := header[start+1 : start+end]
		rest := header[start+end+1:]
		params := rest
		if i := strings.IndexByte(rest, '<'); i >= 0 {
			params = rest[:i]
		}
		for _, param := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			v = strings.Trim(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ",")), `"`)
			for _, rel := range strings.Fields(v) {
				if strings.EqualFold(rel, "next") {
					return target
				}
			}
		}
		header = rest
	}
	return ""
}
