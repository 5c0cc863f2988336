# Tests of the poll orders workflow: hookflow test examples/poll-orders
# A test's event is one item of the poll's answer: an order, as event.body.

test "a new paid order becomes one shipment" {
  workflow = "poll_orders"
  event {
    body = file("order.json")
  }
  mock "ship" {
    status = 201
    json   = { id = "shp_77" }
  }
  expect "ship" {
    method = "POST"
    url    = "https://fulfillment.example.com/api/shipments"
    json = {
      order_id = "ord_1042"
      name     = "Ada Lovelace"
      address  = "12 St James's Square, London SW1Y 4JH, GB"
      lines    = [{ sku = "MUG-BLK", quantity = 2 }, { sku = "TEE-NAVY-M", quantity = 1 }]
      paid_at  = "2026-03-02T09:14:05Z"
    }
  }
  expect_run = "succeeded"
}

test "a busy warehouse is tried again" {
  workflow = "poll_orders"
  event {
    body = file("order.json")
  }
  mock "ship" {
    responses = [{ status = 503 }, { status = 201, json = { id = "shp_77" } }]
  }
  expect "ship" {
    count = 2
  }
  expect_run = "succeeded"
}

test "an order picked up in a store is not shipped" {
  workflow = "poll_orders"
  event {
    body = {
      id       = "ord_1043"
      status   = "paid"
      shipping = { method = "pickup", name = "Grace Hopper" }
      lines    = [{ sku = "MUG-BLK", quantity = 1 }]
    }
  }
  expect_run = "filtered"
}
