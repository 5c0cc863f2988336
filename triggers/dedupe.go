package triggers

import (
	"cmp"
	"maps"
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// dedupeKey is what identifies a delivery of ev to rt's workflow: the webhook's dedupe
// template, else the delivery id its verify preset's sender puts in every request.
// "" when there is none. A template that cannot be rendered on ev dedupes nothing: the
// event is taken rather than lost.
//
// The template reads the event with its headers as the request brought them (sent,
// see sentEvent), credentials included: a sender's idempotency token may be named as
// one (Twilio's I-Twilio-Idempotency-Token), and read [redacted], as the event keeps
// it, every delivery would be a repeat of the first. The key is kept only as a hash
// (engine's dedupeKey), and the error of a template that cannot be rendered hides
// those credentials as it hides the event's others.
func (h *Webhooks) dedupeKey(rt route, ev *workflows.Event, sent *sentEvent) string {
	if rt.hook.Dedupe == nil {
		return presetDeliveryID(rt.hook.preset, ev)
	}
	value := sent.value()
	key, err := rt.hook.Dedupe.RenderString(&workflows.Env{Event: value, Vars: rt.wf.Vars})
	if err != nil {
		hidden := rt.wf.Secrets.PlusCredentials(value).Plus(workflows.CredentialValues(value["headers"], nil)...)
		h.log.Warn("dedupe cannot be rendered on this event; starting a run without it",
			"workflow", rt.wf.Name, "event", ev.ID, "err", hidden.String(err.Error()))
		return ""
	}
	return key
}

// sentEvent is an event's value with its headers as the request brought them: names
// in lower case, repeated values joined with ", " as the event joins them, and the
// values of credential headers as sent, where the event keeps them [redacted]. It is
// made once per request, when a webhook's dedupe first reads it.
type sentEvent struct {
	event  map[string]any // the event's value
	header http.Header
	sent   map[string]any // made by value
}

func (s *sentEvent) value() map[string]any {
	if s.sent == nil {
		headers := make(map[string]any, len(s.header))
		for k, vs := range s.header {
			headers[strings.ToLower(k)] = strings.Join(vs, ", ")
		}
		s.sent = maps.Clone(s.event)
		s.sent["headers"] = headers
	}
	return s.sent
}

// presetDeliveryID is the id a verify preset's sender gives each delivery, the same on
// every retry of it: GitHub's X-GitHub-Delivery, Standard Webhooks' webhook-id (Svix's
// svix-id: the id of the set of headers the request is verified with), Shopify's X-Shopify-Event-Id (the same for every delivery of one event,
// X-Shopify-Webhook-Id when a sender gives none), and the id of a Stripe event.
func presetDeliveryID(preset string, ev *workflows.Event) string {
	switch preset {
	case "github":
		return ev.Headers["x-github-delivery"]
	case "standard":
		if names := standardSet(func(name string) bool { return ev.Headers[name] != "" }); names != nil {
			return ev.Headers[names[0]]
		}
	case "shopify":
		return cmp.Or(ev.Headers["x-shopify-event-id"], ev.Headers["x-shopify-webhook-id"])
	case "stripe":
		if body, ok := ev.Body.(map[string]any); ok {
			if id, ok := body["id"].(string); ok && strings.HasPrefix(id, "evt_") {
				return id
			}
		}
	}
	return ""
}
