test "the child run runs, its steps mocked by STEP/CHILD_STEP" {
  workflow = "order"
  event {
    body = { id = "o1" }
  }
  mock "invoice/create" {
    json = { number = "INV-1" }
  }
  mock "notify" {
    status = 200
  }
  expect "invoice/create" {
    method = "POST"
    json   = { order = "o1" }
    count  = 1
  }
  expect "notify" {
    json = { text = "invoice INV-1" }
  }
}

test "a mocked workflow step starts no child" {
  workflow = "order"
  event {
    body = { id = "o2" }
  }
  mock "invoice" {
    json = { number = "INV-2" }
  }
  mock "notify" {
    status = 200
  }
  expect "invoice" {
    output = { result = { number = "INV-2" } }
  }
  expect "invoice/create" {
    count = 0
  }
  expect "notify" {
    json = { text = "invoice INV-2" }
  }
}

test "a child that fails fails the step" {
  workflow = "order"
  event {
    body = { id = "o3" }
  }
  mock "invoice" {
    status = 500
  }
  expect "notify" {
    count = 0
  }
  expect_run = "failed"
}

test "the children of a for_each workflow step, mocked per item" {
  workflow = "batch"
  event {
    body = { orders = ["a", "b", "c"] }
  }
  mock "invoices[1]" {
    json = { number = "INV-B" }
  }
  mock "invoices/create" {
    json = { number = "INV-X" }
  }
  expect "invoices/create" {
    count = 2
  }
  expect "numbers" {
    output = { all = ["INV-X", "INV-B", "INV-X"] }
  }
}
