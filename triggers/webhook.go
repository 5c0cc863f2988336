// Package triggers holds what starts runs: each trigger kind in its own file, and the
// servers that receive events for them.
package triggers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// Webhook is a compiled trigger "webhook": an HTTP endpoint under /hooks.
type Webhook struct {
	Path            string // as written: "/stripe", "/repos/{repo}/events"
	Method          string
	MaxBody         int64
	Dedupe          *workflows.Template // nil: no deduplication
	DedupeWindow    time.Duration
	Sync            bool // response = "sync"
	ResponseTimeout time.Duration
	RateLimit       *RateLimit // nil: none

	segments    []string
	preset      string   // the verify preset, "" for none
	verify      verifier // nil: requests are not verified
	verifyRange hcl.Range
}

// MaxResponseTimeout is the longest a sync webhook waits for its run: less than the
// server's write timeout, and than most senders wait.
const MaxResponseTimeout = 50 * time.Second

// RateLimit is at most N requests per Per.
type RateLimit struct {
	N   int
	Per time.Duration
}

var webhookMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete}

func webhookKind() workflows.TriggerKind {
	return workflows.TriggerKind{
		Name: "webhook",
		Attrs: []workflows.Attr{
			{Name: "path", Required: true},
			{Name: "method"},
			{Name: "dedupe"},
			{Name: "dedupe_window"},
			{Name: "response"},
			{Name: "response_timeout"},
			{Name: "max_body"},
			{Name: "rate_limit"},
		},
		Blocks:        []workflows.BlockType{{Type: "verify", Labels: []string{"preset"}}},
		EventAttrs:    []string{"path", "method"},
		HeadersAsSent: true, // dedupe, see dedupeKey
		New: func(b *workflows.Block) (any, hcl.Diagnostics) {
			return newWebhook(b)
		},
		Check: checkWebhooks,
	}
}

func newWebhook(b *workflows.Block) (*Webhook, hcl.Diagnostics) {
	w := &Webhook{Dedupe: b.Template("dedupe"), verifyRange: b.DefRange}
	// Each check runs whatever the others found, so that one load reports every
	// problem of the trigger; a check that reads another attribute waits for it only.
	var diags hcl.Diagnostics
	w.Path, diags = b.ConstString("path", "")
	pathOK := !diags.HasErrors()
	method, d := b.ConstString("method", http.MethodPost)
	diags = append(diags, d...)
	w.Method = strings.ToUpper(method)
	if a := b.Attr("method"); a != nil && !d.HasErrors() && !slices.Contains(webhookMethods, w.Method) {
		diags = append(diags, a.Error(fmt.Sprintf("Unsupported webhook method %q", method),
			"A webhook answers one of "+strings.Join(webhookMethods, ", ")+"."))
	}
	if a := b.Attr("path"); a != nil && pathOK {
		segs, err := parsePath(w.Path)
		if err != nil {
			diags = append(diags, a.Error("Invalid webhook path", err.Error()))
		}
		w.segments = segs
	}
	w.DedupeWindow, d = b.Duration("dedupe_window", 24*time.Hour)
	diags = append(diags, d...)
	response, d := b.OneOf("response", "async", "async", "sync")
	diags = append(diags, d...)
	w.Sync = response == "sync"
	responseOK := !d.HasErrors()
	w.ResponseTimeout, d = b.Duration("response_timeout", 10*time.Second)
	diags = append(diags, d...)
	responseOK = responseOK && !d.HasErrors()
	w.MaxBody, d = sizeAttr(b, "max_body", DefaultMaxBody)
	diags = append(diags, d...)
	w.RateLimit, d = rateLimitAttr(b)
	diags = append(diags, d...)

	verifies := b.Nested("verify")
	for i, raw := range verifies {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Two verify blocks",
				Detail: "A webhook verifies its requests one way; keep one verify block.", Subject: raw.DefRange.Ptr()})
			break
		}
		diags = append(diags, w.decodeVerify(b, raw)...)
	}

	if a := b.Attr("response_timeout"); a != nil && responseOK {
		switch {
		case !w.Sync:
			diags = append(diags, a.Warning("response_timeout without response = \"sync\"",
				"An async webhook answers as soon as its run is queued; response_timeout applies to sync ones only."))
		case w.ResponseTimeout < 100*time.Millisecond || w.ResponseTimeout > MaxResponseTimeout:
			diags = append(diags, a.Error("response_timeout out of range",
				fmt.Sprintf("A sync webhook waits from 100ms to %s for its run; past it, it answers 202 with the run id.", workflows.FormatDuration(MaxResponseTimeout))))
		}
	}
	return w, diags
}

// AnswerTimeout is how long a sync webhook's caller waits for the run's answer.
func (w *Webhook) AnswerTimeout() (time.Duration, bool) { return w.ResponseTimeout, w.Sync }

func (w *Webhook) decodeVerify(b *workflows.Block, raw *hcl.Block) hcl.Diagnostics {
	name := raw.Labels[0]
	p, ok := presets[name]
	if !ok {
		detail := fmt.Sprintf("There is no verify preset %q. The presets are: %s.", name, strings.Join(presetNames(), ", "))
		if hint := presetHint(name); hint != "" {
			detail = fmt.Sprintf("There is no verify preset %q. %s", name, hint)
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown verify preset %q", name),
			Detail: detail, Subject: raw.LabelRanges[0].Ptr()}}
	}
	// An attribute Decode reports (unknown, or failed) is not in vb: the others are
	// still checked.
	vb, diags := b.Decode(raw, p.attrs)
	templated := false
	for _, n := range vb.Names() {
		if _, isConst := vb.Template(n).Const(); !isConst {
			diags = append(diags, vb.Attr(n).Error(n+" cannot use {{ }}",
				"Verification settings are fixed when the file loads; they cannot depend on the request they verify."))
			templated = true
		}
	}
	if templated {
		return diags // the preset's own reading would say it again
	}
	for _, n := range []string{"secrets", "password", "tokens"} {
		diags = append(diags, vb.Attr(n).CredentialsInFile(fmt.Sprintf("verify %q's %s", name, n),
			fmt.Sprintf(`%s = [secret(%q)]`, n, workflows.EnvName(name, "webhook", strings.TrimSuffix(n, "s"))))...)
	}
	for _, a := range p.attrs {
		if a.Required && vb.Attr(a.Name) == nil {
			return diags // missing, or failed: Decode said so
		}
	}
	v, d := p.new(vb)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return diags
	}
	w.verify, w.verifyRange, w.preset = v, raw.DefRange, name
	return diags
}

// checkWebhooks looks at the webhooks that share a method and path (whatever their
// parameters are called): they receive the same requests, so they must verify them
// alike and name their parameters alike, and one workflow listens there once.
func checkWebhooks(ts []*workflows.Trigger) hcl.Diagnostics {
	first := map[string]*workflows.Trigger{}
	own := map[string]*workflows.Trigger{} // by path and workflow
	var diags hcl.Diagnostics
	for _, t := range ts {
		w := t.Config.(*Webhook)
		key := w.Method + " " + w.shape()
		if prev, ok := own[key+"\x00"+t.Workflow]; ok {
			at := fmt.Sprintf("%s:%d:%d", prev.DefRange.Filename, prev.DefRange.Start.Line, prev.DefRange.Start.Column)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Two webhooks on one path",
				Detail: fmt.Sprintf("Workflow %q already has a webhook on %s %s (at %s); each request would start it twice.",
					t.Workflow, w.Method, prev.Config.(*Webhook).Path, at), Subject: t.DefRange.Ptr()})
			continue
		}
		own[key+"\x00"+t.Workflow] = t
		f, ok := first[key]
		if !ok {
			first[key] = t
			continue
		}
		fw := f.Config.(*Webhook)
		at := fmt.Sprintf("%s:%d:%d", f.DefRange.Filename, f.DefRange.Start.Line, f.DefRange.Start.Column)
		if fw.Sync && w.Sync {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Two sync webhooks on one path",
				Detail: fmt.Sprintf("Workflow %q's webhook on %s %s and workflow %q's (at %s) both answer with their run, but a request gets one answer; keep response = \"sync\" on one of them.",
					t.Workflow, w.Method, w.Path, f.Workflow, at), Subject: t.DefRange.Ptr()})
		}
		if w.Sync {
			first[key] = t // a third webhook is compared with the sync one
		}
		switch {
		case strings.Join(fw.segments, "/") != strings.Join(w.segments, "/"):
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Webhooks on one path name its parameters differently",
				Detail: fmt.Sprintf("Workflow %q's webhook on %s %s and workflow %q's on %s (at %s) receive the same requests; name the parameters alike.",
					t.Workflow, w.Method, w.Path, f.Workflow, fw.Path, at), Subject: t.DefRange.Ptr()})
		case fw.preset != w.preset:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Webhooks on one path verify differently",
				Detail: fmt.Sprintf("Workflow %q's webhook on %s %s verifies with %s, but workflow %q's (at %s) with %s. "+
					"Webhooks sharing a path receive the same requests, so they must verify them the same way.",
					t.Workflow, w.Method, w.Path, w.verifyName(), f.Workflow, rangeAt(fw.verifyRange), fw.verifyName()),
				Subject: w.verifyRange.Ptr(),
			})
		case w.verify != nil:
			if differ := settingsDiffer(w.verify, fw.verify); len(differ) > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Webhooks on one path verify differently",
					Detail: fmt.Sprintf("Workflow %q's webhook on %s %s and workflow %q's (at %s) both verify with %s, but %s. "+
						"Webhooks sharing a path receive the same requests, so they must verify them the same way "+
						"(the order of secrets does not matter, and a setting left out is its default).",
						t.Workflow, w.Method, w.Path, f.Workflow, rangeAt(fw.verifyRange), w.verifyName(), andList(differ)),
					Subject: w.verifyRange.Ptr(),
				})
			}
		}
	}
	return diags
}

// rangeAt is where a range starts, as a message names it: file:line:column.
func rangeAt(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// shape is the path with its parameters unnamed: /gh/{repo} and /gh/{name} are one path.
func (w *Webhook) shape() string {
	var b strings.Builder
	for _, s := range w.segments {
		b.WriteByte('/')
		if _, isParam := param(s); isParam {
			b.WriteString("{}")
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}

func (w *Webhook) verifyName() string {
	if w.verify == nil {
		return "nothing"
	}
	return fmt.Sprintf("%q", w.preset)
}

// parsePath splits a webhook path into segments; "{name}" segments capture a value.
func parsePath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q must start with /; it is served under /hooks, so \"/stripe\" answers at /hooks/stripe", p)
	}
	if strings.ContainsAny(p, "?#") {
		return nil, fmt.Errorf("%q holds a query or fragment; a path is only the part before ?", p)
	}
	if strings.Contains(p, `\`) {
		return nil, fmt.Errorf("%q holds a backslash, which some servers and proxies take for a /: the listener refuses every request for it", p)
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
