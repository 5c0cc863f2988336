package engine

import (
	"encoding/json"
	"slices"

	"github.com/hookflow/hookflow/workflows"
)

// A step with sensitive = true records its output raw, for the later steps of its run
// and for a replay, and shown as [sensitive]. The commit that ends a run succeeded
// forgets the raw values in the same script call (lib.lua's hide_sensitive): a run
// that succeeded is never replayed, and no moment exists when it has ended and still
// holds them. A run that fails keeps them, to be replayed, until its retention ends.
// What is forgotten:
//
//   - the outputs of its sensitive steps, and of their items, replaced by [sensitive];
//     the resumes of its sensitive wait steps, dropped;
//   - the values of the items of a for_each step that hold sensitive values, and its
//     event when it is a child run whose input held sensitive values of its parent:
//     their shown forms, written beside them when they were stored, take their place.
//     There, a string that holds a sensitive value is [sensitive]; the rest stays.
//
// A child run forgets the copy in its event when it succeeds itself, whatever its
// parent does: the copy is the child's (the parent keeps its own), a child that
// succeeded is never replayed, and one that has not ended yet may still read it.

// eventShownField is the run hash field that holds the shown form of a run's event,
// for a child run whose input held sensitive values: the API shows it, and the end of
// the run, if it succeeds, puts it in the event's place.
const eventShownField = "event_shown"

// shownOf is the event of a run as it is shown, from its fields event and event_shown
// (as HMGET gives them): the shown form when it has one.
func shownOf(vals []any) string {
	if len(vals) == 2 {
		if s, ok := vals[1].(string); ok && s != "" {
			return s
		}
	}
	if len(vals) > 0 {
		s, _ := vals[0].(string)
		return s
	}
	return ""
}

// shownEventOf is the event of a run as it is shown, from the run's hash.
func shownEventOf(fields map[string]string) string {
	if s := fields[eventShownField]; s != "" {
		return s
	}
	return fields["event"]
}

// hiding is what a run of a workflow version forgets when it succeeds.
type hiding struct {
	fields  []any    // s:<step> of its sensitive steps, w:<step> of its sensitive wait steps
	results []string // its sensitive for_each steps, whose items' records hide their outputs
	each    []string // its for_each steps, whose items may have been listed from sensitive values
}

// hidingOf is what runs of wf forget when they succeed, made once per version.
func (q *queue) hidingOf(wf *workflows.Workflow) *hiding {
	return wf.Derived(hidingKey{}, makeHiding).(*hiding)
}

func makeHiding(wf *workflows.Workflow) any {
	h := &hiding{}
	for _, s := range slices.Concat(wf.Steps, wf.OnFailure) {
		if s.ForEach != nil {
			h.each = append(h.each, s.Name)
		}
		if !s.Sensitive {
			continue
		}
		h.fields = append(h.fields, recordPrefix+s.Name)
		if _, ok := s.Action.(workflows.Waiter); ok {
			h.fields = append(h.fields, resumePrefix+s.Name)
		}
		if s.ForEach != nil {
			h.results = append(h.results, s.Name)
		}
	}
	return h
}

type hidingKey struct{}

// hiding is what the run of commit c forgets, when c ends it succeeded and it has raw
// sensitive values to forget (unless Options.KeepSensitive keeps them); else nil, and
// the commit pays nothing for it.
func (q *queue) hiding(c commit) *hiding {
	if c.plan.Status != RunSucceeded || len(c.wf.Steps) == 0 || q.keepSensitive {
		return nil
	}
	if h := q.hidingOf(c.wf); len(h.fields) > 0 || c.eventShown {
		return h
	}
	return nil
}

// sensitiveOnly hides the values of the run's sensitive outputs, as they are and
// encoded, but not its workflow's secrets; nil when it has none.
func (r *runState) sensitiveOnly() *workflows.Redactor {
	if len(r.sensitive) == 0 {
		return nil
	}
	if r.onlySensitive == nil {
		r.onlySensitive = (*workflows.Redactor)(nil).Plus(r.sensitive...).Encoded()
	}
	return r.onlySensitive
}

// shownEvent is ev, a child run's event, as it is shown and kept once the child
// succeeds: with every string of its body that holds a sensitive value of the run
// starting it replaced by [sensitive]. nil when its body holds none.
func (r *runState) shownEvent(ev *workflows.Event) ([]byte, error) {
	sens := r.sensitiveOnly()
	if sens == nil {
		return nil, nil
	}
	body, hid := sens.Hide(ev.Body, workflows.SensitiveShown)
	if !hid {
		return nil, nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	shown := *ev
	shown.Body, shown.Raw = body, string(raw)
	return json.Marshal(&shown)
}

// hiddenItem is the shown form of an item listed from sensitive values: its value
// and its key (JSON), each nil when it holds none.
type hiddenItem struct {
	index      int
	key, value []byte
}

// hiddenItems are the shown forms of the listed items that hold sensitive values of
// the run.
func (r *runState) hiddenItems(items []workflows.Item) ([]hiddenItem, error) {
	sens := r.sensitiveOnly()
	if sens == nil {
		return nil, nil
	}
	var out []hiddenItem
	for i, it := range items {
		var h hiddenItem
		if v, hid := sens.Hide(it.Value, workflows.SensitiveShown); hid {
			data, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			h.value = data
		}
		if k, ok := it.Key.(string); ok && sens.Secret(k) {
			h.key, _ = json.Marshal(workflows.SensitiveShown)
		}
		if h.key != nil || h.value != nil {
			h.index = i
			out = append(out, h)
		}
	}
	return out, nil
}

// eventHidden adds to the values the run hides those its event's shown form hides:
// a child run's steps redact what its parent's sensitive steps gave it, as the
// parent's steps do.
func (r *runState) eventHidden(ev *workflows.Event, shown string) error {
	sev, err := workflows.DecodeEvent([]byte(shown))
	if err != nil {
		return err
	}
	n := len(r.sensitive)
	r.sensitive = hiddenIn(ev.Body, sev.Body, r.sensitive)
	if len(r.sensitive) != n {
		r.secrets, r.onlySensitive = nil, nil
	}
	return nil
}

// hiddenIn appends to into the strings of raw that shown, its shown form, has as
// [sensitive].
func hiddenIn(raw, shown any, into []string) []string {
	switch raw := raw.(type) {
	case string:
		if shown == workflows.SensitiveShown && raw != workflows.SensitiveShown && !slices.Contains(into, raw) {
			into = append(into, raw)
		}
	case map[string]any:
		if m, ok := shown.(map[string]any); ok {
			for k, v := range raw {
				into = hiddenIn(v, m[k], into)
			}
		}
	case []any:
		if l, ok := shown.([]any); ok && len(l) == len(raw) {
			for i, v := range raw {
				into = hiddenIn(v, l[i], into)
			}
		}
	}
	return into
}
