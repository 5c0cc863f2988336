package triggers

import (
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Summary describes the webhook for the admin API's workflow list.
func (w *Webhook) Summary() map[string]any {
	s := map[string]any{"path": w.Path, "url_path": "/hooks" + w.Path, "method": w.Method, "response": "async",
		"text": w.Method + " /hooks" + w.Path}
	if w.Sync {
		s["response"] = "sync"
	}
	if w.preset != "" {
		s["verify"] = w.preset
	}
	if w.RateLimit != nil {
		s["rate_limit"] = map[string]any{"requests": w.RateLimit.N, "per": w.RateLimit.Per.String()}
	}
	return s
}

// Announce logs the webhook's URL.
func (w *Webhook) Announce(wf *workflows.Workflow, hooks string) (string, []any) {
	return "webhook", []any{"workflow", wf.Name, "method", w.Method, "url", hooks + wf.Secrets.String(w.Path)}
}

// LocalEvent makes ev this webhook's request: its method and path, with the body and
// headers given. The path is the one a request with ev's params would have (see
// RequestPath). A webhook whose {name} segments are not ev's params (their names) does
// not shape it: the workflow's webhook that a test's or hookflow run's params pick is
// the first whose segments they are, and one without segments when there are none.
func (w *Webhook) LocalEvent(ev *workflows.Event, given bool) bool {
	if !w.TakesParams(ev.Params) {
		return false
	}
	ev.Path, _ = w.RequestPath(ev.Params)
	ev.Trigger, ev.Method = "webhook", w.Method
	return true
}

// ParamNames are the names of the {name} segments of the webhook's path, in its order.
func (w *Webhook) ParamNames() []string {
	var names []string
	for _, seg := range strings.Split(w.Path, "/") {
		if name, ok := param(seg); ok {
			names = append(names, name)
		}
	}
	return names
}

// TakesParams reports whether params name the webhook's {name} segments, every one
// and no other: those of a request to it, as serve records them.
func (w *Webhook) TakesParams(params map[string]string) bool {
	names := w.ParamNames()
	if len(names) != len(params) {
		return false
	}
	for _, name := range names {
		if _, ok := params[name]; !ok {
			return false
		}
	}
	return true
}

// RequestPath is the path of a request to the webhook whose {name} segments hold
// params' values, as serve records it in event.path: below /hooks, decoded ("/ev/a b"
// for a request to /hooks/ev/a%20b). missing names the parameters params does not
// give, in the path's order; their segments are left as written, "{id}".
func (w *Webhook) RequestPath(params map[string]string) (path string, missing []string) {
	segs := strings.Split(w.Path, "/")
	for i, seg := range segs {
		name, ok := param(seg)
		if !ok {
			continue
		}
		if v, given := params[name]; given {
			segs[i] = v
		} else {
			missing = append(missing, name)
		}
	}
	return strings.Join(segs, "/"), missing
}

// Summary describes the schedule for the admin API's workflow list, with when it
// next fires, and its timezone (UTC when it sets none), where a cron spec's wall
// clock is and an interval's scheduled_at has its offset.
func (s *Schedule) Summary() map[string]any {
	out := map[string]any{"next": s.Next(time.Now()).UTC(), "timezone": s.Location.String()}
	if s.Cron != nil {
		out["cron"] = s.Spec
	} else {
		out["every"] = workflows.FormatDuration(s.Every) // as a file writes it: "1h", not "1h0m0s"
	}
	out["text"] = s.Text()
	return out
}

// Text is the schedule as a file writes it: "every 1h", "cron 0 9 * * * Europe/Paris".
// (Key names it in Redis, as it always did: "every 1h0m0s".)
func (s *Schedule) Text() string {
	if s.Cron == nil {
		return "every " + workflows.FormatDuration(s.Every)
	}
	return "cron " + s.Spec + " " + s.Location.String()
}

// Announce logs when the schedule next fires, and the schedule as its ticks' events
// give it (Text).
func (s *Schedule) Announce(wf *workflows.Workflow, _ string) (string, []any) {
	return "schedule", []any{"workflow", wf.Name, "schedule", s.Text(), "next", s.Next(time.Now()).Format(time.RFC3339)}
}

// LocalEvent makes ev the schedule's latest tick at ev's time (its next, for a cron
// spec that has not fired in a year), when no body was given.
func (s *Schedule) LocalEvent(ev *workflows.Event, given bool) bool {
	if given {
		return false
	}
	at, _ := s.Due(ev.ReceivedAt.Add(-400*24*time.Hour), ev.ReceivedAt)
	if at.IsZero() {
		at = s.Next(ev.ReceivedAt)
	}
	tick := s.TickEvent(at, false, ev.ReceivedAt)
	ev.Trigger, ev.ContentType, ev.Raw, ev.Body = tick.Trigger, tick.ContentType, tick.Raw, tick.Body
	return true
}

// Summary describes the poll for the admin API's workflow list: its schedule and
// what it asks. The state of its polls (the last one, the last error) is kept in
// Redis under StateKey.
func (p *Poll) Summary() map[string]any {
	out := p.Schedule.Summary()
	out["text"] = "poll " + p.method + " " + p.url + " " + out["text"].(string)
	out["method"], out["url"] = p.method, p.url
	if p.api != "" {
		out["api"] = p.api
	}
	return out
}

// StateKey names the state of the poll kept in Redis: see Poll.Key.
func (p *Poll) StateKey() string { return p.key }

// Announce logs what the poll asks and when.
func (p *Poll) Announce(wf *workflows.Workflow, _ string) (string, []any) {
	return "poll", []any{"workflow", wf.Name, "request", p.method + " " + wf.Secrets.String(p.url),
		"schedule", p.Schedule.Text(), "next", p.Schedule.Next(time.Now()).Format(time.RFC3339)}
}

// LocalEvent makes ev the event of a new item, ev's body, when one was given.
func (p *Poll) LocalEvent(ev *workflows.Event, given bool) bool {
	if !given {
		return false
	}
	ev.Trigger, ev.Method, ev.Path = "poll", "", ""
	ev.Poll = map[string]any{"time": ev.ReceivedAt.Truncate(time.Second).UTC().Format(time.RFC3339), "page": 1}
	return true
}
