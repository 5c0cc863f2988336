// Package triggers holds what starts runs: each trigger kind in its own file, and the
// servers that receive events for them.
package triggers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// Register adds every trigger kind to k.
func Register(k *workflows.Kinds) {
	k.AddTrigger(webhookKind())
}

// Webhook is a compiled trigger "webhook": an HTTP endpoint under /hooks.
type Webhook struct {
	Path     string // as written: "/stripe", "/repos/{repo}/events"
	Method   string
	segments []string
}

var webhookMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete}

func webhookKind() workflows.TriggerKind {
	return workflows.TriggerKind{
		Name: "webhook",
		Attrs: []workflows.Attr{
			{Name: "path", Required: true},
			{Name: "method"},
		},
		New: func(b *workflows.Block) (any, hcl.Diagnostics) {
			return newWebhook(b)
		},
	}
}

func newWebhook(b *workflows.Block) (*Webhook, hcl.Diagnostics) {
	path, diags := b.ConstString("path", "")
	method, d := b.ConstString("method", http.MethodPost)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	w := &Webhook{Path: path, Method: strings.ToUpper(method)}
	if !slices.Contains(webhookMethods, w.Method) {
		diags = append(diags, b.Attr("method").Error(fmt.Sprintf("Unsupported webhook method %q", method),
			"A webhook answers one of "+strings.Join(webhookMethods, ", ")+"."))
	}
	segs, err := parsePath(path)
	if err != nil {
		diags = append(diags, b.Attr("path").Error("Invalid webhook path", err.Error()))
	}
	w.segments = segs
	return w, diags
}

// parsePath splits a webhook path into segments; "{name}" segments capture a value.
func parsePath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q must start with /; it is served under /hooks, so \"/stripe\" answers at /hooks/stripe", p)
	}
	if strings.ContainsAny(p, "?#") {
		return nil, fmt.Errorf("%q holds a query or fragment; a path is only the part before ?", p)
	}
	trimmed := strings.Trim(p, "/")
	if trimmed == "" {
		return nil, fmt.Errorf("the path must name something below /hooks, such as \"/stripe\"")
	}
	segs := strings.Split(trimmed, "/")
	seen := map[string]bool{}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%q has an empty segment (//)", p)
		}
		if name, ok := param(s); ok {
			if !workflows.ValidName(name) {
				return nil, fmt.Errorf("%q: {%s} is not a valid parameter name", p, name)
			}
			if seen[name] {
				return nil, fmt.Errorf("%q names {%s} twice", p, name)
			}
			seen[name] = true
		} else if strings.ContainsAny(s, "{}") {
			return nil, fmt.Errorf("%q: a parameter must be a whole segment, like /{name}/", p)
		}
	}
	return segs, nil
}

func param(seg string) (string, bool) {
	if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}
