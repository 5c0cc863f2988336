test "an answer after response_timeout" {
  workflow = "slash"
  mock "tickets" {
    error = "timeout"
  }
  expect "answer" {
    output = { body = { text = "slow" } }
  }
}

test "an answer within response_timeout" {
  workflow = "slash"
  mock "tickets" {
    json = {}
  }
  expect "answer" {
    output = { body = { text = "listed" } }
  }
}

test "a manual start waits for no answer" {
  workflow = "slash"
  event {
    trigger = "manual"
  }
  mock "tickets" {
    error = "timeout"
  }
  expect "answer" {
    output = { body = { text = "slow" } }
  }
}
