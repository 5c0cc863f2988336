package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// The params of a webhook's event made by hand, a test's or hookflow run's: the values
// of the {name} segments of its path. They pick which of the workflow's webhooks the
// event is: the first whose segments they name, every one and no other (none: one
// without segments), as the webhook a request with those segments is sent to. Both
// commands check them by one rule, so that a test and a run never have an event.path
// or event.params that serve would not record.

// paramWords is how a command's user writes params, for its errors.
type paramWords struct {
	// one names a param: params.id, --param id.
	one func(name string) string
	// write is how to give params of these names; "" none.
	write func(names []string) string
	// notGiven says that params do not give a segment, after "which".
	notGiven string
	// given says which params were given, as the subject of a sentence.
	given func(names []string) string
	// usage makes the error: a test's fails the test, hookflow run's is a usage error.
	usage func(err error) error
}

// testParamWords are a test's: params = { id = "…" }.
var testParamWords = paramWords{
	one: func(name string) string { return "params." + name },
	write: func(names []string) string {
		if len(names) == 0 {
			return "no params"
		}
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + ` = "…"`
		}
		return "params = { " + strings.Join(parts, ", ") + " }"
	},
	notGiven: "the event's params do not give",
	given: func(names []string) string {
		if len(names) == 0 {
			return "the event gives no params, and"
		}
		return "the event's params (" + strings.Join(names, ", ") + ") are"
	},
	usage: func(err error) error { return err },
}

// runParamWords are hookflow run's: --param id=….
var runParamWords = paramWords{
	one: func(name string) string { return "--param " + name },
	write: func(names []string) string {
		if len(names) == 0 {
			return "no --param"
		}
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = "--param " + n + "=…"
		}
		return strings.Join(parts, " ")
	},
	notGiven: "no --param gives",
	given: func(names []string) string {
		if len(names) == 0 {
			return "no --param is given, and"
		}
		return "the names of --param (" + strings.Join(names, ", ") + ") are"
	},
	usage: func(err error) error { return usage("%v", err) },
}

// webhooksOf are the workflow's webhooks, in its order.
func webhooksOf(wf *workflows.Workflow) []*triggers.Webhook {
	var hooks []*triggers.Webhook
	for _, t := range wf.Triggers {
		if h, ok := t.Config.(*triggers.Webhook); ok {
			hooks = append(hooks, h)
		}
	}
	return hooks
}

// pickWebhook returns the webhook of wf that params pick (see above), once their
// values are ones a request's path holds; nil, and no error, for a workflow without a
// webhook. The error says what to write instead.
func pickWebhook(wf *workflows.Workflow, params map[string]string, w paramWords) (*triggers.Webhook, error) {
	hooks := webhooksOf(wf)
	if len(hooks) == 0 {
		return nil, nil
	}
	shown := func(h *triggers.Webhook) string { return wf.Secrets.String(h.Path) }
	names := slices.Sorted(maps.Keys(params))
	i := slices.IndexFunc(hooks, func(h *triggers.Webhook) bool { return h.TakesParams(params) })
	switch {
	case i < 0 && len(hooks) == 1:
		hook := hooks[0]
		if _, missing := hook.RequestPath(params); len(missing) > 0 {
			return nil, w.usage(fmt.Errorf("the webhook's path %s takes {%s}, which %s: write %s, as a request to /hooks%s sets it",
				shown(hook), strings.Join(missing, "}, {"), w.notGiven, w.write(missing), shown(hook)))
		}
		extra := slices.DeleteFunc(names, func(n string) bool { return slices.Contains(hook.ParamNames(), n) })
		return nil, w.usage(fmt.Errorf("%s is not a {name} segment of the webhook's path %s, so no request to it sets event.params.%s: leave it out",
			w.one(extra[0]), shown(hook), extra[0]))
	case i < 0:
		picks := make([]string, len(hooks))
		for j, h := range hooks {
			picks[j] = w.write(h.ParamNames()) + " for " + shown(h)
		}
		which := "the {name} segments of none of the workflow's webhooks"
		if len(names) == 0 {
			which = "every webhook of the workflow has {name} segments"
		}
		return nil, w.usage(fmt.Errorf("%s %s; to pick one, write %s", w.given(names), which, strings.Join(picks, "; ")))
	}
	hook := hooks[i]
	for _, name := range names {
		if why := triggers.SegmentProblem(params[name]); why != "" {
			return nil, w.usage(fmt.Errorf("%s is %q, which no request to /hooks%s gives: it %s",
				w.one(name), params[name], shown(hook), why))
		}
	}
	return hook, nil
}
