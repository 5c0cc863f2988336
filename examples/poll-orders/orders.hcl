# A shop that sends no webhooks: every minute, ask its API for the orders paid since
# the last poll, and post each new one, once, to the warehouse that ships it.
# See README.md.

api "shop" {
  base_url = env("SHOP_URL", "https://shop.example.com/api/v1")
  auth "bearer" {
    token = secret("SHOP_TOKEN")
  }
  timeout = "20s"
}

# The warehouse (fulfillment) API: every shipment shares its base URL, token, timeout
# and retry policy.
api "fulfillment" {
  base_url = env("FULFILLMENT_URL", "https://fulfillment.example.com/api")
  auth "bearer" {
    token = secret("FULFILLMENT_TOKEN")
  }
  timeout = "15s"
  retry {
    attempts = 8
    backoff  = "exponential"
    initial  = "2s"
    max      = "5m"
  }
}

workflow "poll_orders" {
  description = "Orders paid at the shop -> a shipment at the warehouse, each once"

  # One poll a minute across every hookflow process. The shop answers
  # {"orders": [...], "next_since": "<the last order's paid_at>"}; next_since is kept
  # as poll.cursor, so the next poll asks only for what was paid since. An answer with
  # no orders has no next_since: the cursor stays where it was. An order paid at that
  # very second comes twice: its id, already seen, starts no second run.
  # The first poll records the orders already paid and starts nothing
  # (backfill = false): only orders paid from now on are shipped.
  trigger "poll" {
    every  = "1m"
    api    = "shop"
    url    = "/orders"
    query  = { status = "paid", paid_since = "{{ poll.cursor ?? '' }}", limit = "250" }
    items  = "response.body.orders"
    key    = "item.id"
    cursor = "response.body.next_since"
  }

  # Orders to be picked up in a store need no shipment.
  filter = "event.body.shipping.method != 'pickup'"

  # The Idempotency-Key (the run and step) makes a repeated call after a crash one
  # shipment; the order id in the body lets the warehouse refuse a second one for
  # the same order.
  step "http" "ship" {
    api    = "fulfillment"
    method = "POST"
    url    = "/shipments"
    json = {
      order_id = "{{ event.body.id }}"
      name     = "{{ event.body.shipping.name }}"
      address  = "{{ event.body.shipping.address }}"
      lines    = "{{ event.body.lines }}"
      paid_at  = "{{ event.body.paid_at }}"
    }
  }
}
