# Tests of the order lines workflow: hookflow test examples/order-lines
# Each line of the order is an item of step "reserve": reserve[0], reserve[1], ...

test "every line with a SKU is reserved, then Slack and the CRM are told" {
  workflow = "order_lines"
  event {
    body    = file("event.json")
    headers = { X-WC-Webhook-Topic = "order.created" }
  }
  mock "reserve[0]" {
    json = { id = "r-1" }
  }
  mock "reserve[1]" {
    # The warehouse is busy once: this line alone is tried again.
    responses = [{ status = 503 }, { status = 201, json = { id = "r-2" } }]
  }
  mock "slack" {
    body = "ok"
  }
  mock "crm" {
    status = 201
  }
  expect "reserve[0]" {
    json = { order = 727, sku = "WOO-SINGLE-1", quantity = 2 }
  }
  expect "reserve[1]" {
    count = 2
    json  = { sku = "SHIP-IDEA-BLK-L", quantity = 1 }
  }
  expect "reserve[2]" {
    skipped = true # a gift card: no SKU
  }
  expect "reserve" {
    count = 3
  }
  expect "slack" {
    json = { text = "Order #727: 2 of 3 lines reserved" }
  }
  expect "crm" {
    json = { email = "ada@example.com", text = "Order #727 reserved: r-1, r-2" }
  }
}

test "a line the warehouse refuses fails the run before any notice" {
  workflow = "order_lines"
  event {
    body    = file("event.json")
    headers = { X-WC-Webhook-Topic = "order.created" }
  }
  mock "reserve" {
    json = { id = "r-1" }
  }
  mock "reserve[1]" {
    status = 409 # not worth another attempt
    json   = { error = "out of stock" }
  }
  expect "reserve[1]" {
    count = 1
  }
  expect "slack" {
    count = 0
  }
  expect_run = "failed"
}

test "other topics start no run" {
  workflow = "order_lines"
  event {
    body    = file("event.json")
    headers = { X-WC-Webhook-Topic = "order.updated" }
  }
  expect_run = "filtered"
}

# Slack reads <, > and & as markup: the order's number is shown as written, so that it
# notifies no one and makes no link of its own.
test "the order's number is escaped for Slack" {
  workflow = "order_lines"
  event {
    body = {
      id         = 728
      number     = "<!channel> & <https://evil.example|728>"
      status     = "processing"
      billing    = { email = "ada@example.com" }
      line_items = [{ id = 317, sku = "WOO-SINGLE-1", quantity = 1 }]
    }
    headers = { X-WC-Webhook-Topic = "order.created" }
  }
  mock "reserve" {
    json = { id = "r-3" }
  }
  mock "slack" {
    body = "ok"
  }
  mock "crm" {
    status = 201
  }
  expect "shown" {
    output = { number = "&lt;!channel&gt; &amp; &lt;https://evil.example|728&gt;" }
  }
  expect "slack" {
    json = { text = "Order #&lt;!channel&gt; &amp; &lt;https://evil.example|728&gt;: 1 of 1 lines reserved" }
  }
}
