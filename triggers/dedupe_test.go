package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A delivery repeated by its sender starts one run; the repeat is answered 200 with
// the first run's id. The key is the dedupe template, else the verify preset's
// delivery id.
func TestDedupe(t *testing.T) {
	srv, starter := serveHooks(t, "d.hcl", `
workflow "push" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}

workflow "orders" {
  trigger "webhook" {
    path          = "/orders"
    dedupe        = "{{ event.body.order_id }}"
    dedupe_window = "1h"
  }
}

workflow "plain" {
  trigger "webhook" {
    path = "/plain"
  }
}
`)

	post := func(path, body string, headers map[string]string) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/hooks"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return readAnswer(t, resp)
	}
	sig := func(body string) string {
		m := hmac.New(sha256.New, []byte("It's a Secret to Everybody"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}

	body := `{"ref": "refs/heads/main"}`
	gh := map[string]string{"X-Hub-Signature-256": sig(body), "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
	first := post("/github", body, gh)
	again := post("/github", body, gh)
	if first.status != 202 || again.status != 200 || again.body["status"] != "duplicate" || again.body["run_id"] != first.body["run_id"] {
		t.Errorf("GitHub redelivery: first %d %v, again %d %v", first.status, first.body, again.status, again.body)
	}
	gh["X-GitHub-Delivery"] = "another"
	if a := post("/github", body, gh); a.status != 202 {
		t.Errorf("another delivery: %d %v", a.status, a.body)
	}

	if a := post("/orders", `{"order_id": 7}`, nil); a.status != 202 {
		t.Errorf("order 7: %d %v", a.status, a.body)
	}
	if a := post("/orders", `{"order_id": 7, "retry": true}`, nil); a.status != 200 || a.body["status"] != "duplicate" {
		t.Errorf("order 7 again: %d %v", a.status, a.body)
	}
	// No order_id: dedupe renders nothing usable; the event is taken, not dropped.
	if a := post("/orders", `{}`, nil); a.status != 202 {
		t.Errorf("no order id: %d %v", a.status, a.body)
	}
	for range 2 {
		if a := post("/plain", `{}`, nil); a.status != 202 {
			t.Errorf("no dedupe: %d %v", a.status, a.body)
		}
	}
	if n := starter.count(); n != 6 {
		t.Errorf("%d runs started, want 6", n)
	}
}

func TestPresetDeliveryIDs(t *testing.T) {
	for _, c := range []struct {
		preset  string
		headers map[string]string
		body    any
		want    string
	}{
		{"github", map[string]string{"x-github-delivery": "d1"}, nil, "d1"},
		{"standard", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "[redacted]"}, nil, "msg_1"},
		{"standard", map[string]string{"svix-id": "msg_2", "svix-timestamp": "1", "svix-signature": "[redacted]"}, nil, "msg_2"},
		// The id of the set the request was verified with, not a stray one.
		{"standard", map[string]string{"svix-id": "msg_3", "svix-timestamp": "1", "svix-signature": "[redacted]", "webhook-id": "stray"}, nil, "msg_3"},
		{"shopify", map[string]string{"x-shopify-webhook-id": "s1"}, nil, "s1"},
		{"shopify", map[string]string{"x-shopify-webhook-id": "s2", "x-shopify-event-id": "e1"}, nil, "e1"},
		{"stripe", nil, map[string]any{"id": "evt_1", "type": "x"}, "evt_1"},
		{"stripe", nil, map[string]any{"id": "pi_1"}, ""},
		{"slack", map[string]string{"x-github-delivery": "d1"}, nil, ""},
		{"", nil, nil, ""},
	} {
		if got := presetDeliveryID(c.preset, &workflows.Event{Headers: c.headers, Body: c.body}); got != c.want {
			t.Errorf("%s: %q, want %q", c.preset, got, c.want)
		}
	}
}

// A dedupe template that cannot be rendered on an event is logged with its error,
// which may quote the event: the values of its credential fields and the workflow's
// secrets are [redacted] there. The event starts its run all the same.
func TestDedupeErrorHidesCredentials(t *testing.T) {
	t.Setenv("DEDUPE_SALT", "salt-s3cr3t-42")
	h, starter := newHooks(t, "d.hcl", `
vars {
  salt = secret("DEDUPE_SALT")
}

workflow "orders" {
  trigger "webhook" {
    path   = "/orders"
    dedupe = "{{ int(event.body.password + vars.salt) }}"
  }
}
`)
	var logs testutil.LogBuffer
	h.log = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := send(t, "POST", srv.URL+"/hooks/orders", "application/json", []byte(`{"password": "notanumber-bodypass1"}`))
	if a.status != http.StatusAccepted || starter.count() != 1 {
		t.Fatalf("answered %d %v, %d runs", a.status, a.body, starter.count())
	}
	text := logs.String()
	if !strings.Contains(text, "dedupe cannot be rendered") || !strings.Contains(text, "int([redacted][redacted])") {
		t.Errorf("the log does not show the error, redacted:\n%s", text)
	}
	for _, v := range []string{"bodypass1", "s3cr3t"} {
		if strings.Contains(text, v) {
			t.Errorf("the log shows %s:\n%s", v, text)
		}
	}
}

// A dedupe template reads the headers as sent, those named as credentials included
// (Twilio's I-Twilio-Idempotency-Token), where the event and its run read them
// [redacted]: else every delivery would be a repeat of the first. An error quoting
// such a header hides its value.
func TestDedupeReadsCredentialHeadersAsSent(t *testing.T) {
	h, starter := newHooks(t, "d.hcl", `
workflow "twilio_status" {
  trigger "webhook" {
    path = "/twilio/status"
    verify "basic" {
      username = "twilio"
      password = ["twilio-pass-2024"]
    }
    dedupe = "{{ event.headers['i-twilio-idempotency-token'] }}"
  }
}

workflow "keyed" {
  trigger "webhook" {
    path   = "/keyed"
    dedupe = "{{ int(event.headers['x-api-key']) }}"
  }
}
`)
	var logs testutil.LogBuffer
	h.log = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(path, token string, headers ...string) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/hooks"+path, strings.NewReader("MessageSid=SM1&MessageStatus=delivered"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("twilio", "twilio-pass-2024")
		req.Header.Set("I-Twilio-Idempotency-Token", token)
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return readAnswer(t, resp)
	}
	for i, c := range []struct {
		token  string
		status int
	}{{"idem-A", 202}, {"idem-B", 202}, {"idem-A", 200}} {
		a := post("/twilio/status", c.token)
		if a.status != c.status || (c.status == 200) != (a.body["status"] == "duplicate") {
			t.Errorf("delivery %d (%s): %d %v, want %d", i+1, c.token, a.status, a.body, c.status)
		}
	}
	starter.mu.Lock()
	events := starter.events["twilio_status"]
	starter.mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("%d runs, want 2", len(events))
	}
	for _, ev := range events {
		if got := ev.Headers["i-twilio-idempotency-token"]; got != workflows.Redacted {
			t.Errorf("the event keeps the token as %q, want it %s", got, workflows.Redacted)
		}
	}

	if a := post("/keyed", "idem-C", "X-Api-Key", "apikey-notanumber-77"); a.status != http.StatusAccepted {
		t.Fatalf("keyed: %d %v", a.status, a.body)
	}
	text := logs.String()
	if !strings.Contains(text, "dedupe cannot be rendered") || !strings.Contains(text, "[redacted]") {
		t.Errorf("the log does not show the error, redacted:\n%s", text)
	}
	if strings.Contains(text, "notanumber") {
		t.Errorf("the log shows the credential header's value:\n%s", text)
	}
}

// GitHub gives one X-GitHub-Delivery to every delivery of one event, to each hook
// and app subscribed: the github preset starts one run per event, and a dedupe of
// the delivery and X-GitHub-Hook-ID one per hook.
func TestGitHubDeliveryIDIsPerEvent(t *testing.T) {
	srv, starter := serveHooks(t, "gh.hcl", `
workflow "per_event" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
  }
}

workflow "per_hook" {
  trigger "webhook" {
    path = "/github-hooks"
    verify "github" {
      secrets = ["It's a Secret to Everybody"]
    }
    dedupe = "{{ event.headers['x-github-delivery'] }}/{{ event.headers['x-github-hook-id'] }}"
  }
}
`)
	body := `{"ref": "refs/heads/main"}`
	m := hmac.New(sha256.New, []byte("It's a Secret to Everybody"))
	m.Write([]byte(body))
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	post := func(path, hook string) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/hooks"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		req.Header.Set("X-GitHub-Hook-ID", hook)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return readAnswer(t, resp)
	}
	if a, b := post("/github", "101"), post("/github", "202"); a.status != 202 || b.status != 200 || b.body["status"] != "duplicate" {
		t.Errorf("the preset, two hooks: %d then %d %v; want one run", a.status, b.status, b.body)
	}
	if a, b := post("/github-hooks", "101"), post("/github-hooks", "202"); a.status != 202 || b.status != 202 {
		t.Errorf("dedupe per hook, two hooks: %d then %d %v; want two runs", a.status, b.status, b.body)
	}
	if a := post("/github-hooks", "202"); a.status != 200 || a.body["status"] != "duplicate" {
		t.Errorf("dedupe per hook, a hook's redelivery: %d %v", a.status, a.body)
	}
	if n := starter.count(); n != 3 {
		t.Errorf("%d runs, want 3", n)
	}
}
