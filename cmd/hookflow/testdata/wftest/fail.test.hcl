test "every expectation wrong" {
  workflow = "order"
  event {
    body = { id = "o1", email = "ada@example.com", total = 12 }
  }
  mock "find" {
    json = { id = "c1" }
  }
  mock "mark" {
    status = 200
  }
  expect "mark" {
    method  = "PUT"
    url     = "https://crm.example.com/customers/c9"
    headers = { X-Order = "o2", X-Missing = "yes" }
    json    = { status = "unpaid", total = 12, note = "x" }
  }
  expect "find" {
    body  = "{}"
    count = 2
  }
  expect "summary" {
    output = { customer = "c2" }
  }
  expect "mark" {
    skipped = true
  }
  expect_run = "failed"
}

test "a call nobody answers" {
  workflow = "order"
  event {
    body = { id = "o1", email = "ada@example.com", total = 12 }
  }
  mock "find" {
    json = { id = "c1" }
  }
}

test "filtered when a run was expected" {
  workflow = "order"
  event {
    body = { id = "o1", total = 0 }
  }
}
