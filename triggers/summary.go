package triggers

import "time"

// Summary describes the webhook for the admin API's workflow list.
func (w *Webhook) Summary() map[string]any {
	s := map[string]any{"path": w.Path, "url_path": "/hooks" + w.Path, "method": w.Method, "response": "async"}
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

// Summary describes the schedule for the admin API's workflow list, with when it
// next fires.
func (s *Schedule) Summary() map[string]any {
	out := map[string]any{"next": s.Next(time.Now()).UTC()}
	if s.Cron != nil {
		out["cron"], out["timezone"] = s.Spec, s.Location.String()
	} else {
		out["every"] = s.Every.String()
	}
	return out
}
