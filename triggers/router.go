package triggers

import (
	"sort"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// route is one workflow listening on a webhook.
type route struct {
	wf   *workflows.Workflow
	hook *Webhook
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

func newRouter(set *workflows.Set) *router {
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
			ep.routes = append(ep.routes, route{wf: wf, hook: hook})
		}
	}
	sort.SliceStable(r.patterns, func(i, j int) bool {
		return literals(r.patterns[i].segments) > literals(r.patterns[j].segments)
	})
	return r
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
