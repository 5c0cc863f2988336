# Stripe payment -> CRM update -> Slack notice.
#
# Add an endpoint in Stripe (Developers > Webhooks) with the URL
# https://YOUR-HOST/hooks/stripe and the event payment_intent.succeeded; its signing
# secret (whsec_...) is STRIPE_WEBHOOK_SECRET. See README.md to try it with the sample
# event.

# Every call to the CRM shares its base URL, token, timeout and retry policy.
api "crm" {
  base_url = env("CRM_URL", "https://crm.example.com/api/v1")
  auth "bearer" {
    token = secret("CRM_TOKEN")
  }
  timeout = "10s"
  retry {
    attempts = 5
    backoff  = "exponential"
    initial  = "2s"
    max      = "1m"
  }
}

# Stripe's zero-decimal currencies count in whole units, its three-decimal ones in
# thousandths; the others in cents.
vars {
  zero_decimal  = ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
  three_decimal = ["bhd", "jod", "kwd", "omr", "tnd"]
}

workflow "stripe_payment" {
  description = "Stripe payment_intent.succeeded -> CRM customer marked paid -> Slack notice"

  # Repeated deliveries of one event start nothing: the stripe preset dedupes on the
  # event's id (evt_...).
  trigger "webhook" {
    path = "/stripe"
    verify "stripe" {
      secrets = [secret("STRIPE_WEBHOOK_SECRET")]
    }
  }

  filter = "event.body.type == 'payment_intent.succeeded'"

  # The amount as people read it: Stripe counts in the currency's smallest unit, cents
  # for most, but yen and the other zero-decimal currencies have none, and dinars have
  # thousandths.
  step "set" "payment" {
    amount   = "{{ event.body.data.object.currency in vars.zero_decimal ? event.body.data.object.amount_received : event.body.data.object.amount_received / (event.body.data.object.currency in vars.three_decimal ? 1000 : 100) }}"
    currency = "{{ upper(event.body.data.object.currency) }}"
    email    = "{{ event.body.data.object.receipt_email ?? '' }}"
  }

  # The CRM answers {"results": [{"id", "name", "email", ...}]}, an empty list when it
  # knows no one with this e-mail (or no results at all: the steps below read a missing
  # list as an empty one).
  # A payment without a receipt e-mail looks no one up: an empty email= could match
  # anyone, and it goes to notify_unknown.
  step "http" "find_customer" {
    if    = "steps.payment.email != ''"
    api   = "crm"
    url   = "/customers"
    query = { email = "{{ steps.payment.email }}" }
  }

  # Links the CRM record to the Stripe customer and records the payment. The
  # Idempotency-Key is the Stripe event's, so the CRM applies the payment once even if
  # the event comes again after the dedupe window.
  step "http" "mark_paid" {
    if              = "len(steps.find_customer.body.results ?? []) > 0"
    method          = "PATCH"
    api             = "crm"
    url             = "/customers/{{ steps.find_customer.body.results[0].id }}"
    idempotency_key = "{{ event.body.id }}"
    json = {
      stripe_customer_id = "{{ event.body.data.object.customer }}"
      status             = "paid"
      last_payment = {
        payment_intent = "{{ event.body.data.object.id }}"
        amount         = "{{ steps.payment.amount }}"
        currency       = "{{ steps.payment.currency }}"
        description    = "{{ event.body.data.object.description }}"
      }
    }
  }

  # The payer's e-mail, the payment's description and the customer's name in the CRM go
  # into a Slack message, where <, > and & are markup: a name of "<!channel>" would
  # notify the whole channel, and "<https://evil.example|click>" would be a link of its
  # own. They are escaped here, as Slack asks.
  step "set" "shown" {
    email       = "{{ replace(replace(replace(steps.payment.email, '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    description = "{{ replace(replace(replace(event.body.data.object.description ?? '', '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    name        = "{{ replace(replace(replace(first(steps.find_customer.body.results ?? [])?.name ?? '', '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
  }

  # A Slack incoming webhook; its URL holds its credential, so it is read as a secret.
  # The CRM's answer to the update gives the link to the customer's page.
  step "http" "notify" {
    if     = "steps.mark_paid.outcome != 'skipped'"
    method = "POST"
    url    = secret("SLACK_WEBHOOK_URL")
    json = {
      text = "Payment received: {{ steps.payment.amount }} {{ steps.payment.currency }} from <{{ steps.mark_paid.body.url }}|{{ steps.shown.name }}> for {{ steps.shown.description }}"
    }
    retry {
      attempts = 5
      backoff  = "exponential"
      initial  = "2s"
      max      = "1m"
    }
  }

  # No one in the CRM has the e-mail of the receipt (or there is none): someone should
  # look.
  step "http" "notify_unknown" {
    if     = "steps.mark_paid.outcome == 'skipped'"
    method = "POST"
    url    = secret("SLACK_WEBHOOK_URL")
    json = {
      text = "Payment received: {{ steps.payment.amount }} {{ steps.payment.currency }} from {{ steps.shown.email != '' ? steps.shown.email : 'a payer without a receipt e-mail' }} for {{ steps.shown.description }}, who is not in the CRM: <https://dashboard.stripe.com/{{ event.body.livemode ? '' : 'test/' }}payments/{{ event.body.data.object.id }}|see the payment>"
    }
    retry {
      attempts = 5
      backoff  = "exponential"
      initial  = "2s"
      max      = "1m"
    }
  }
}
