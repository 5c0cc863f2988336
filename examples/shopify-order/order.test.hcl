# Tests of the Shopify order workflow: hookflow test examples/shopify-order
# They send nothing: each http step is answered by its mock.

test "a paid order is shipped, then invoiced naming its shipment" {
  workflow = "shopify_order"
  event {
    body = file("event.json")
    headers = {
      X-Shopify-Topic       = "orders/create"
      X-Shopify-Webhook-Id  = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
      X-Shopify-Hmac-Sha256 = "not checked in tests"
    }
  }
  mock "shipment" {
    status = 201
    json   = { id = "shp_311" }
  }
  mock "invoice" {
    # The accounting API is down once: the step tries again, at once in a test.
    responses = [{ status = 502 }, { status = 201, json = { id = "inv_88" } }]
  }
  expect "shipment" {
    method  = "POST"
    url     = "https://wms.example.com/api/shipments"
    headers = { Idempotency-Key = "shopify-order-820982911946154508" }
    json = {
      reference = "#9999"
      order_id  = 820982911946154508
      ship_to   = { name = "John Smith", email = "jon@example.com" }
      items     = [{ sku = "IPOD2008PINK", quantity = 1 }, { sku = "IPOD2008BLACK", quantity = 1 }]
    }
  }
  expect "invoice" {
    count   = 2
    method  = "POST"
    url     = "https://books.example.com/api/v3/invoices"
    headers = { Idempotency-Key = "shopify-invoice-820982911946154508" }
    json = {
      reference = "Shopify #9999"
      currency  = "USD"
      total     = "199.65"
      status    = "paid"
      shipment  = "shp_311"
      lines = [
        { description = "IPod Nano - 8GB (IPOD2008PINK)", quantity = 1, unit_price = "199.00" },
        { description = "IPod Nano - 8GB (IPOD2008BLACK)", quantity = 1, unit_price = "199.00" },
      ]
    }
  }
}

test "a warehouse that refuses the order fails the run, and nothing is invoiced" {
  workflow = "shopify_order"
  event {
    body    = file("event.json")
    headers = { X-Shopify-Topic = "orders/create" }
  }
  mock "shipment" {
    status = 422
    json   = { error = "unknown sku" }
  }
  expect "shipment" {
    count = 1 # a 4xx is not worth another attempt
  }
  expect "invoice" {
    count = 0
  }
  expect_run = "failed"
}

test "an order not paid yet is left to a person" {
  workflow = "shopify_order"
  event {
    body    = { id = 1, name = "#10000", financial_status = "pending" }
    headers = { X-Shopify-Topic = "orders/create" }
  }
  expect_run = "filtered"
}

test "another topic starts nothing" {
  workflow = "shopify_order"
  event {
    body    = file("event.json")
    headers = { X-Shopify-Topic = "orders/updated" }
  }
  expect_run = "filtered"
}
