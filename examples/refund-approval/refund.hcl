# Refund request -> approval in Slack -> payments API, or the requester told.
#
# The shop's back office POSTs a refund request to https://YOUR-HOST/hooks/refunds,
# signed with REFUNDS_WEBHOOK_SECRET. See README.md to try it with the sample request.
# Start hookflow with --public-url https://YOUR-HOST, so that the approval links in
# Slack reach it.

api "payments" {
  base_url = env("PAYMENTS_URL", "https://payments.example.com/api")
  auth "bearer" {
    token = secret("PAYMENTS_TOKEN")
  }
  timeout = "10s"
  retry {
    attempts = 5
    backoff  = "exponential"
    initial  = "2s"
    max      = "1m"
  }
}

api "mail" {
  base_url = env("MAIL_URL", "https://mail.example.com/api")
  auth "bearer" {
    token = secret("MAIL_TOKEN")
  }
}

workflow "refund_request" {
  description = "Refund request -> approval asked in Slack -> refund, or the requester told it was declined or not decided"

  trigger "webhook" {
    path = "/refunds"
    verify "hmac" {
      secrets   = [secret("REFUNDS_WEBHOOK_SECRET")]
      header    = "X-Signature-256"
      algorithm = "sha256"
      prefix    = "sha256="
    }
  }

  filter = "event.body.amount > 0"

  # The request's texts go into a Slack message, where <, > and & are markup: a reason
  # of "<https://evil.example/x|Approve> <!channel>" would be a link of its own beside
  # the real ones, and notify the whole channel. They are escaped here, as Slack asks.
  step "set" "shown" {
    order_id = "{{ replace(replace(replace(string(event.body.order_id ?? ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    currency = "{{ replace(replace(replace(upper(event.body.currency ?? ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    email    = "{{ replace(replace(replace(event.body.customer.email ?? '', '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    reason   = "{{ replace(replace(replace(event.body.reason ?? '', '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
  }

  # The links resume the wait step below: a click opens a page whose button resumes
  # it, with ?decision=… in steps.approval.query. The URLs are secrets of a kind:
  # whoever has one can decide, so they go to the approvers' channel only.
  step "http" "ask" {
    method = "POST"
    url    = secret("SLACK_WEBHOOK_URL")
    json = {
      text = "Refund of {{ event.body.amount }} {{ steps.shown.currency }} for order {{ steps.shown.order_id }}, asked by {{ steps.shown.email }}: {{ steps.shown.reason }}. <{{ resume_url('approval') }}?decision=approve|Approve> or <{{ resume_url('approval') }}?decision=decline|Decline>"
    }
  }

  # The run waits here, holding no worker, until one of the links is used (or its URL
  # is POSTed to with {"decision": "approve"}), for three days at most.
  step "wait" "approval" {
    timeout    = "72h"
    on_timeout = "continue"
  }

  step "set" "decision" {
    value = "{{ steps.approval.timed_out ? 'none' : steps.approval.query.decision ?? (type(steps.approval.body) == 'map' ? steps.approval.body.decision : nil) ?? 'none' }}"
  }

  # Approved: the payments API refunds the order once, whatever repeats (its
  # Idempotency-Key is the run's and the step's).
  step "http" "refund" {
    if     = "steps.decision.value == 'approve'"
    method = "POST"
    api    = "payments"
    url    = "/refunds"
    json = {
      order_id = "{{ event.body.order_id }}"
      amount   = "{{ event.body.amount }}"
      currency = "{{ event.body.currency }}"
      reason   = "{{ event.body.reason }}"
    }
  }

  # Declined, or no one decided within three days: the requester is told.
  step "http" "tell_requester" {
    if     = "steps.refund.outcome == 'skipped'"
    method = "POST"
    api    = "mail"
    url    = "/messages"
    json = {
      to      = "{{ event.body.customer.email }}"
      subject = "Your refund for order {{ event.body.order_id }}"
      text    = "{{ steps.decision.value == 'decline' ? 'Your refund request was declined; reply to this message to discuss it.' : 'Your refund request has not been decided within three days; we will come back to you.' }}"
    }
  }
}
