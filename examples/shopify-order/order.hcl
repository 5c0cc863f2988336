# Shopify order -> a shipment at the warehouse, then an invoice in the accounting system.
#
# Subscribe to the "Order creation" event (Settings > Notifications > Webhooks, JSON)
# with the URL https://YOUR-HOST/hooks/shopify/orders, or register it through the
# Admin API with the topic orders/create. The key that signs it is
# SHOPIFY_WEBHOOK_SECRET. See README.md to try it with the sample event.

vars {
  accounting = env("ACCOUNTING_URL", "https://books.example.com/api/v3")
}

# Every call to the warehouse shares its base URL, token, timeout and retry policy.
api "warehouse" {
  base_url = env("WAREHOUSE_URL", "https://wms.example.com/api")
  auth "bearer" {
    token = secret("WAREHOUSE_TOKEN")
  }
  timeout = "15s"
  retry {
    attempts = 8
    backoff  = "exponential"
    initial  = "2s"
    max      = "5m"
  }
}

workflow "shopify_order" {
  description = "Paid Shopify orders -> warehouse shipment -> accounting invoice"

  # Repeated deliveries start nothing: the shopify preset dedupes on
  # X-Shopify-Event-Id (X-Shopify-Webhook-Id when Shopify sends none).
  trigger "webhook" {
    path = "/shopify/orders"
    verify "shopify" {
      secrets = [secret("SHOPIFY_WEBHOOK_SECRET")]
    }
  }

  # Orders not paid yet (cash on delivery, bank transfer) are left to a person.
  filter = "event.headers['x-shopify-topic'] == 'orders/create' && event.body.financial_status == 'paid'"

  # The warehouse answers {"id": "shp_...", ...}. The Idempotency-Key is the order's, so
  # one order is shipped once, whatever happens to this run.
  step "http" "shipment" {
    method          = "POST"
    api             = "warehouse"
    url             = "/shipments"
    idempotency_key = "shopify-order-{{ event.body.id }}"
    json = {
      reference = "{{ event.body.name }}"
      order_id  = "{{ event.body.id }}"
      ship_to = {
        name    = "{{ event.body.customer.first_name }} {{ event.body.customer.last_name }}"
        city    = "{{ event.body.shipping_address.city }}"
        zip     = "{{ event.body.shipping_address.zip }}"
        country = "{{ event.body.shipping_address.country_code }}"
        email   = "{{ event.body.email }}"
      }
      items = "{{ map(event.body.line_items, { {sku: #.sku, quantity: #.quantity} }) }}"
    }
  }

  # Prices stay the strings Shopify sends ("199.00"), so no amount goes through floating
  # point. The invoice names the shipment the warehouse created.
  step "http" "invoice" {
    method          = "POST"
    url             = "${vars.accounting}/invoices"
    headers         = { X-Api-Key = secret("ACCOUNTING_API_KEY") }
    idempotency_key = "shopify-invoice-{{ event.body.id }}"
    json = {
      reference = "Shopify {{ event.body.name }}"
      customer = {
        email = "{{ event.body.email }}"
        name  = "{{ event.body.customer.first_name }} {{ event.body.customer.last_name }}"
      }
      currency = "{{ event.body.currency }}"
      lines    = "{{ map(event.body.line_items, { {description: #.title + ' (' + #.sku + ')', quantity: #.quantity, unit_price: #.price} }) }}"
      total    = "{{ event.body.total_price }}"
      status   = "paid"
      shipment = "{{ steps.shipment.body.id }}"
    }
    timeout = "15s"
    retry {
      attempts = 8
      backoff  = "exponential"
      initial  = "2s"
      max      = "5m"
    }
  }
}
