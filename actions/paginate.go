package actions

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"strconv"

	"github.com/hookflow/hookflow/workflows"
)

// A step (or a poll) with a paginate block reads a list that its API answers one page
// at a time. Each page is a request of its own: recorded in the run history with its
// page number, admitted by the api's limits, sent through the outbound guard, its
// redirects not followed. A step keeps each page it read where its job's next lease
// finds it (workflows.PageStore): when the api's limits hold a page back, the step is
// handed back to the queue like any call held back (no worker held, no attempt
// counted), and goes on from that page when it is leased again, as it does after its
// worker died. A poll keeps nothing between ticks: its pages after the first wait for
// their turn within the poll.

// Paginate is the step's paginate block; nil for a step that sends one request.
func (h *HTTP) Paginate() *workflows.Paginate { return h.paginate }

// Pages sends the request and then, while the paginate block's next gives a URL, the
// request of the next page, at most max_pages in all. each is called with every page
// in turn, and stops the reading when it returns false. Pages returns the last page
// read, and the URL of the page it did not read when max_pages stopped it ("" when the
// list ended, or each stopped it). A page on another scheme or host than the first is
// refused: the step's credentials go to where it points, nowhere else. The pages after
// the first wait within the call for the api's limits.
func (h *HTTP) Pages(ctx context.Context, c *workflows.Call, each func(page *workflows.PageEnv) (bool, error)) (last map[string]any, next string, err error) {
	return h.pages(ctx, c, cursor{page: 1}, each, nil)
}

// cursor is where the reading of a list starts: the page to read, its URL ("" for the
// first page, the step's url), and the first page's URL, whose scheme and host every
// page keeps (nil for the first page).
type cursor struct {
	page   int
	next   string
	origin *url.URL
}

// pages reads the list from the page at, as Pages says. With keep, a page that the
// api's limits hold back returns workflows.Throttled, and keep is called with every
// page read, and its next page's URL, before that page is sent: the caller keeps them
// to go on from there. Without, the pages after the first wait for their turn.
func (h *HTTP) pages(ctx context.Context, c *workflows.Call, at cursor, each func(page *workflows.PageEnv) (bool, error),
	keep func(page *workflows.PageEnv, next string) error) (last map[string]any, next string, err error) {
	origin, next := at.origin, at.next
	for page := at.page; ; page++ {
		p, secrets, err := h.prepare(ctx, c, next)
		if err != nil {
			return last, "", err
		}
		if key := p.req.Header.Get("Idempotency-Key"); key != "" && page > 1 {
			// Each page is a request of its own: an API that keeps answers by key
			// must not answer a later page with the first.
			p.req.Header.Set("Idempotency-Key", key+":page"+strconv.Itoa(page))
		}
		if origin == nil {
			origin = p.req.URL
		} else if p.req.URL.Scheme != origin.Scheme || p.req.URL.Host != origin.Host {
			return last, "", workflows.Permanent(fmt.Errorf("paginate: page %d is at %s://%s, not where the first page was (%s://%s); a step's pages stay on its host",
				page, p.req.URL.Scheme, secrets.String(p.req.URL.Host), origin.Scheme, secrets.String(origin.Host)))
		}
		out, err := h.sendPage(ctx, c, p, secrets, page, page > 1 && keep == nil)
		if out != nil {
			last = out
		}
		if err != nil && page > 1 {
			err = fmt.Errorf("page %d: %w", page, err) // its kind (retry, held back or not) kept
		}
		if err != nil {
			return last, "", err
		}
		env := workflows.NewPageEnv(c.Env, out, h.method, p.req.URL.String(), page)
		more, err := each(env)
		if err != nil || !more {
			return last, "", err
		}
		v, err := h.paginate.Next.Eval(env)
		if err != nil {
			return last, "", workflows.Permanent(fmt.Errorf("paginate next: %w", err))
		}
		if v == nil || v == "" {
			return last, "", nil
		}
		s, ok := v.(string)
		if !ok {
			return last, "", workflows.Permanent(fmt.Errorf("paginate next gave %s, not a URL (nil ends the list)", workflows.Text(v)))
		}
		ref, err := url.Parse(workflows.EscapeTarget(s)) // escaped as parseURL does, before it is resolved
		if err != nil {
			return last, "", workflows.Permanent(fmt.Errorf("paginate next: not a valid URL: %w", parseError(err)))
		}
		next = p.req.URL.ResolveReference(ref).String()
		if page >= h.paginate.MaxPages {
			return last, next, nil
		}
		if keep != nil {
			if err := keep(env, next); err != nil {
				return last, "", fmt.Errorf("page %d: keeping it for the next lease: %w", page, err)
			}
		}
	}
}

// sendPage sends one page, admitted by the api's limits: a page the limits hold back
// is workflows.Throttled, unless wait says to wait for its turn within the call.
func (h *HTTP) sendPage(ctx context.Context, c *workflows.Call, p *prepared, secrets *workflows.Redactor, page int, wait bool) (map[string]any, error) {
	if h.limits != nil {
		admit := h.limits.wait
		if !wait {
			admit = func(ctx context.Context) (func(), error) { return h.limits.admitCall(ctx, c) }
		}
		release, err := admit(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return h.send(ctx, c, p, secrets, page)
}

// doPages runs a step with a paginate block: its output is the last page's
// {status, headers, body}, with items (every page's items, in order), pages (how many
// were read) and next (the URL of the first page not read when max_pages stopped the
// reading; nil when the list ended). With c.Pages, it goes on from the pages an
// earlier lease of the step kept, and keeps each page it reads.
func (h *HTTP) doPages(ctx context.Context, c *workflows.Call) (any, error) {
	items, pages := []any{}, 0
	at, last := cursor{page: 1}, map[string]any(nil)
	var keep func(page *workflows.PageEnv, next string) error
	var pageItems []any // the items of the page read last
	if c.Pages != nil {
		kept, response, err := c.Pages.Kept(ctx)
		if err != nil {
			return nil, fmt.Errorf("paginate: reading the pages read before: %w", err)
		}
		if n := len(kept); n > 0 {
			for _, k := range kept {
				items = append(items, k.Items...)
				if k.Request != nil {
					c.Record(k.Request)
				}
			}
			origin, err := url.Parse(kept[0].URL)
			if err != nil {
				return nil, fmt.Errorf("paginate: the first page's URL as kept: %w", unwrapURLError(err))
			}
			pages, last = n, response
			at = cursor{page: kept[n-1].Page + 1, next: kept[n-1].Next, origin: origin}
		}
		keep = func(page *workflows.PageEnv, next string) error {
			u, _ := page.Request["url"].(string)
			return c.Pages.Keep(ctx, workflows.KeptPage{Page: page.Page, URL: u, Next: next, Items: pageItems, Request: c.Sent},
				page.Response)
		}
	}
	// full is the URL of the page whose items would pass workflows.MaxItems: the step
	// stops before it, as at max_pages, with the pages before it and next set to it.
	full, before := "", last
	got, next, err := h.pages(ctx, c, at, func(page *workflows.PageEnv) (bool, error) {
		v, err := h.paginate.Items.Eval(page)
		if err != nil {
			return false, workflows.Permanent(fmt.Errorf("paginate items, page %d: %w", page.Page, err))
		}
		switch list := v.(type) {
		case nil:
			pageItems = nil
		case []any:
			if len(items)+len(list) > workflows.MaxItems {
				if pages == 0 {
					return false, workflows.Permanent(fmt.Errorf("paginate: the first page has %d items, more than the %d a step keeps",
						len(list), workflows.MaxItems))
				}
				full, _ = page.Request["url"].(string)
				return false, nil
			}
			items, pageItems = append(items, list...), list
		default:
			return false, workflows.Permanent(fmt.Errorf("paginate items, page %d: gave %s, not a list", page.Page, workflows.Text(v)))
		}
		pages++
		before = page.Response
		return true, nil
	}, keep)
	if full != "" {
		got, next = before, full
	}
	if got != nil {
		last = got
	}
	if err != nil {
		if last == nil {
			return nil, err
		}
		return last, err
	}
	out := maps.Clone(last)
	out["items"], out["pages"], out["next"] = items, pages, nil
	if next != "" {
		out["next"] = next
	}
	return out, nil
}

// wait admits a call, waiting within the caller for as long as the limits ask, up to
// ctx's deadline: for the pages after the first of a read that keeps nothing between
// calls (a poll's).
func (l *limiter) wait(ctx context.Context) (func(), error) {
	return l.waitBy(ctx, l.limits(), "the next page", "the read")
}
