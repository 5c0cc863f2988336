test "a paid order marks the customer paid" {
  workflow = "order"
  event {
    body    = { id = "o1", email = "ada@example.com", total = 12 }
    headers = { X-Shop = "one" }
  }
  mock "find" {
    json = { id = "c1" }
  }
  mock "mark" {
    status = 200
  }
  expect "find" {
    method = "get"
    url    = "https://crm.example.com/customers?email=ada%40example.com"
    count  = 1
  }
  expect "mark" {
    method  = "PATCH"
    url     = "https://crm.example.com/customers/c1"
    headers = { x-order = "o1" }
    json    = { status = "paid", total = 12 }
  }
  expect "summary" {
    output = { customer = "c1" }
  }
}

test "a lookup retried until it answers" {
  workflow = "order"
  event {
    body = { id = "o2", email = "bob@example.com", total = 5 }
  }
  mock "find" {
    responses = [
      { status = 503 },
      { error = "timeout" },
      { status = 200, json = { id = "c2" } },
    ]
  }
  mock "mark" {
    status = 204
  }
  expect "find" {
    count = 3
  }
  expect "summary" {
    output = { customer = "c2" }
  }
}

test "an unknown customer is not marked" {
  workflow = "order"
  event {
    body = { id = "o3", email = "eve@example.com", total = 5 }
  }
  mock "find" {
    json = {}
  }
  expect "mark" {
    skipped = true
    count   = 0
  }
  expect "summary" {
    output = { customer = "none" }
  }
}

test "a lookup that fails fails the run" {
  workflow = "order"
  event {
    body = { id = "o4", email = "eve@example.com", total = 5 }
  }
  mock "find" {
    status = 404
    body   = "no such customer"
  }
  expect "find" {
    count = 1
  }
  expect_run = "failed"
}

test "an order of nothing starts no run" {
  workflow = "order"
  event {
    body = { id = "o5", total = 0 }
  }
  expect_run = "filtered"
}

test "a manual run skips the filter" {
  workflow = "order"
  event {
    trigger = "manual"
    body    = { id = "o6", total = 0 }
  }
  mock "find" {
    json = {}
  }
}
