test "a step of a block fails the run" {
  workflow = "p"
  event {
    body = { a = 1 }
  }
  mock "slack" {
    status = 200
  }
  mock "email" {
    status = 503
  }
  expect_run = "succeeded"
}
