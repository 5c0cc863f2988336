# WooCommerce order -> one stock reservation per order line -> a Slack notice and a CRM
# note, sent together.
#
# In WooCommerce (Settings > Advanced > Webhooks) add a webhook with the topic "Order
# created", the delivery URL https://YOUR-HOST/hooks/woocommerce/orders and a secret:
# WOOCOMMERCE_WEBHOOK_SECRET. See README.md to try it with the sample event.

vars {
  inventory = env("INVENTORY_URL", "https://inventory.example.com/api")
  crm_api   = env("CRM_URL", "https://crm.example.com/api/v1")
}

workflow "order_lines" {
  description = "Paid WooCommerce orders -> a reservation per line -> Slack and CRM"

  # WooCommerce signs the body with HMAC-SHA256, base64, in X-WC-Webhook-Signature, and
  # names each delivery in X-WC-Webhook-Delivery-ID: a repeat starts nothing.
  trigger "webhook" {
    path = "/woocommerce/orders"
    verify "hmac" {
      secrets   = [secret("WOOCOMMERCE_WEBHOOK_SECRET")]
      header    = "X-WC-Webhook-Signature"
      algorithm = "sha256"
      encoding  = "base64"
    }
    dedupe = "{{ event.headers['x-wc-webhook-delivery-id'] }}"
  }

  # "processing" is a paid order waiting to be shipped.
  filter = "event.headers['x-wc-webhook-topic'] == 'order.created' && event.body.status == 'processing'"

  # One reservation per order line, at most five in flight. Each line is its own job:
  # retried on its own, and keyed by the order and the line, so a line is reserved once
  # however often its call is repeated. Lines without a SKU (a gift card) are skipped.
  step "http" "reserve" {
    for_each        = "event.body.line_items"
    max_parallel    = 5
    if              = "each.value.sku != ''"
    method          = "POST"
    url             = "${vars.inventory}/reservations"
    headers         = { Authorization = "Bearer ${secret("INVENTORY_TOKEN")}" }
    idempotency_key = "woo-{{ event.body.id }}-line-{{ each.value.id }}"
    json = {
      order    = "{{ event.body.id }}"
      sku      = "{{ each.value.sku }}"
      quantity = "{{ each.value.quantity }}"
    }
    timeout = "10s"
    retry {
      attempts = 5
      backoff  = "exponential"
      initial  = "2s"
      max      = "1m"
    }
  }

  # The order's number goes into a Slack message, where <, > and & are markup: a
  # number that a plugin made "<!channel>" would notify the whole channel. It is
  # escaped here, as Slack asks.
  step "set" "shown" {
    number = "{{ replace(replace(replace(string(event.body.number ?? ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
  }

  # Once every line is reserved, Slack and the CRM are told at the same time. Each reads
  # the reservations as steps.reserve: the list of the lines' answers, in order.
  parallel "notify" {
    step "http" "slack" {
      url      = secret("SLACK_WEBHOOK_URL")
      json     = { text = "Order #{{ steps.shown.number }}: {{ len(filter(steps.reserve, .outcome == 'succeeded')) }} of {{ len(steps.reserve) }} lines reserved" }
      on_error = "continue"
    }
    step "http" "crm" {
      method  = "POST"
      url     = "${vars.crm_api}/notes"
      headers = { Authorization = "Bearer ${secret("CRM_TOKEN")}" }
      json = {
        email = "{{ event.body.billing.email }}"
        text  = "Order #{{ event.body.number }} reserved: {{ join(map(filter(steps.reserve, .outcome == 'succeeded'), string(.body.id)), ', ') }}"
      }
    }
  }
}
