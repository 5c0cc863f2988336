# Tests of the quick start: hookflow test examples/quickstart

test "greets the name it is given" {
  workflow = "hello"
  event {
    body = { name = "Ada" }
  }
  mock "greet" {
    status = 200
    json   = { message = "Hello, Ada!", length = 3 }
  }
  expect "greet" {
    method = "POST"
    url    = "http://127.0.0.1:8080/hooks/greeting"
    json   = { name = "Ada" }
  }
  expect "say" {
    output = { message = "Hello, Ada! (3 letters)" }
  }
}

test "an event without a name starts no run" {
  workflow = "hello"
  event {
    body = { email = "ada@example.com" }
  }
  expect_run = "filtered"
}

test "the greeting answers with the name" {
  workflow = "greeting"
  event {
    body = { name = "Grace" }
  }
  expect "answer" {
    output = { body = { message = "Hello, Grace!", length = 5 } }
  }
}
