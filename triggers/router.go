package triggers

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/hookflow/hookflow/workflows"
)

// route is one workflow listening on a webhook.
type route struct {
	wf      *workflows.Workflow
	hook    *Webhook
	limiter *rate.Limiter // nil: no rate limit
	counts  *routeCounts  // nil: no metrics
}

// limiterKey names a webhook's rate limit across reloads: the same workflow, method,
// path and limit keep their limiter, and what it counted.
func limiterKey(wf string, h *Webhook) string {
	return fmt.Sprintf("%s %s %s %d/%s", wf, h.Method, h.shape(), h.RateLimit.N, h.RateLimit.Per)
}

// endpoint is one path and everyone listening on it. Several workflows may share a
// path (one URL for all of a provider's events is common); each applies its own filter.
type endpoint struct {
	segments []string
	routes   []route
}

// router maps request paths to endpoints. It is built once per workflow set and never
// changed, so requests read it without locks.
type router struct {
	exact    map[string]*endpoint // paths without parameters, by their clean form
	patterns []*endpoint          // paths with {parameters}, most literal segments first
}

// newRouter routes the webhooks of set. Rate limits unchanged since prev (nil for
// none) carry on with prev's limiters, so that a reload does not refill them. Each
// route counts its requests in m (nil: no metrics).
func newRouter(set *workflows.Set, prev *router, m *Metrics) *router {
	limiters := map[string]*rate.Limiter{}
	if prev != nil {
		for _, ep := range prev.endpoints() {
			for _, rt := range ep.routes {
				if rt.limiter != nil {
					limiters[limiterKey(rt.wf.Name, rt.hook)] = rt.limiter
				}
			}
		}
	}
	r := &router{exact: map[string]*endpoint{}}
	byPath := map[string]*endpoint{}
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			hook, ok := t.Config.(*Webhook)
			if !ok {
				continue
			}
			key := hook.shape()
			ep := byPath[key]
			if ep == nil {
				ep = &endpoint{segments: hook.segments}
				byPath[key] = ep
				if hasParams(hook.segments) {
					r.patterns = append(r.patterns, ep)
				} else {
					r.exact[key] = ep
				}
			}
			rt := route{wf: wf, hook: hook, counts: m.route(wf.Name)}
			if l := hook.RateLimit; l != nil {
				rt.limiter = limiters[limiterKey(wf.Name, hook)]
				if rt.limiter == nil {
					rt.limiter = rate.NewLimiter(rate.Limit(float64(l.N)/l.Per.Seconds()), l.N)
				}
			}
			ep.routes = append(ep.routes, rt)
		}
	}
	sort.SliceStable(r.patterns, func(i, j int) bool {
		return literals(r.patterns[i].segments) > literals(r.patterns[j].segments)
	})
	return r
}

// endpoints lists every endpoint of the router.
func (r *router) endpoints() []*endpoint {
	out := append([]*endpoint(nil), r.patterns...)
	for _, ep := range r.exact {
		out = append(out, ep)
	}
	return out
}

// match finds the endpoint for a path below /hooks and the values of its parameters.
func (r *router) match(path string) (*endpoint, map[string]string) {
	clean := "/" + strings.Trim(path, "/")
	if ep := r.exact[clean]; ep != nil {
		return ep, nil
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, ep := range r.patterns {
		if params, ok := matchSegments(ep.segments, segs); ok {
			return ep, params
		}
	}
	return nil, nil
}

// pathProblem says what makes a request's path one that no webhook is sent to, or ""
// when nothing does: a path that is not in its clean form (an empty segment, a . or ..
// segment; a trailing slash is fine), which a sender that means a webhook does not
// send; a slash written as an escape (%2F), or a backslash (\ or %5C), which a proxy in
// front may take for a separator where hookflow does not, so that the two would route
// different paths; and a control character or bytes that are not UTF-8, which no
// parameter of an event may hold. A path is refused for these rather than taken for its
// clean form, or redirected to it, so that its sender learns what is wrong with it. p is
// the path decoded, escaped the path as it came (URL.EscapedPath). Each segment is
// checked by the rule a {name} segment's value is (see SegmentProblem).
func pathProblem(p, escaped string) string {
	if p == "" || p[0] != '/' {
		return ""
	}
	if i := strings.Index(strings.ToUpper(escaped), "%2F"); i >= 0 {
		return fmt.Sprintf("the path %q holds an encoded slash (%s), which is not a separator to hookflow but may be to a proxy; send a / or name another path",
			escaped, escaped[i:i+3])
	}
	segs := strings.Split(p[1:], "/")
	if segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // a trailing slash is fine, and so is / alone
	}
	for _, seg := range segs {
		switch segmentFaultOf(seg) {
		case segmentNotClean:
			clean := path.Clean(p)
			if strings.HasSuffix(p, "/") && clean != "/" {
				clean += "/"
			}
			return fmt.Sprintf("the path %q has an empty, . or .. segment; send it in its clean form, %q", p, clean)
		case segmentBackslash:
			return fmt.Sprintf("the path %q holds a backslash (\\ or %%5C), which some servers and proxies take for a /; name another path", escaped)
		case segmentControl:
			return fmt.Sprintf("the path %q holds a control character", p)
		case segmentNotUTF8:
			return fmt.Sprintf("the path %q is not valid UTF-8", p)
		}
	}
	return ""
}

// segmentFault is what makes a segment of a path one serve refuses (see pathProblem).
type segmentFault int

const (
	segmentFine     segmentFault = iota
	segmentNotClean              // empty, . or ..
	segmentBackslash
	segmentControl
	segmentNotUTF8
)

// segmentFaultOf says what makes seg, one segment of a path, decoded, one serve
// refuses: segmentFine when nothing does.
func segmentFaultOf(seg string) segmentFault {
	switch {
	case seg == "" || seg == "." || seg == "..":
		return segmentNotClean
	case strings.Contains(seg, `\`):
		return segmentBackslash
	case strings.ContainsFunc(seg, unicode.IsControl):
		return segmentControl
	case !utf8.ValidString(seg):
		return segmentNotUTF8
	}
	return segmentFine
}

// SegmentProblem says why no request serve takes has v as the value of a {name}
// segment of a webhook's path, in words that follow "it" ("is empty"), or "" when one
// may: a value that holds a / is two segments, and serve refuses a path with any
// segment pathProblem refuses. hookflow test and hookflow run check their params by it.
func SegmentProblem(v string) string {
	if strings.Contains(v, "/") {
		return "holds a /, which makes it two segments"
	}
	switch segmentFaultOf(v) {
	case segmentNotClean:
		if v == "" {
			return "is empty, and a segment of a path is not"
		}
		return "is . or .., which serve refuses in a path: it is not in its clean form"
	case segmentBackslash:
		return "holds a backslash, which serve refuses in a path, as some servers and proxies take it for a /"
	case segmentControl:
		return "holds a control character, which serve refuses in a path"
	case segmentNotUTF8:
		return "is not valid UTF-8, which serve refuses in a path"
	}
	return ""
}

func matchSegments(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if name, ok := param(p); ok {
			if segs[i] == "" {
				return nil, false
			}
			params[name] = segs[i]
		} else if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func hasParams(segs []string) bool { return literals(segs) < len(segs) }

func literals(segs []string) int {
	n := 0
	for _, s := range segs {
		if _, ok := param(s); !ok {
			n++
		}
	}
	return n
}
