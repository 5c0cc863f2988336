test "a wait past the timeout fails the run" {
  workflow = "short"
  mock "on_failure/page" {
    status = 200
  }
}

test "a wait past the timeout, expected" {
  workflow   = "short"
  expect_run = "failed"
  mock "on_failure/page" {
    status = 200
  }
  expect "on_failure/page" {
    json = { error = "step approval: run timed out: its timeout of 3s passed", step = "approval" }
  }
}

test "a resumed wait takes no time" {
  workflow = "short"
  resume "approval" {
    json = { ok = true }
  }
  expect "after" {
    output = { message = "timed_out=false" }
  }
}

test "a delay past the timeout fails the run" {
  workflow = "slowdelay"
  mock "on_failure/page" {
    status = 200
  }
}

test "a delay past the timeout, expected" {
  workflow   = "slowdelay"
  expect_run = "failed"
  mock "on_failure/page" {
    status = 200
  }
  expect "on_failure/page" {
    json = { error = "step d: run timed out: its timeout of 2s passed", step = "d" }
  }
}

test "retries past the timeout fail the run" {
  workflow = "rt"
  mock "call" {
    status = 500
  }
  mock "on_failure/page" {
    status = 200
  }
  expect "call" {
    count = 3
  }
}

test "retries past the timeout, expected" {
  workflow   = "rt"
  expect_run = "failed"
  mock "call" {
    status = 500
  }
  mock "on_failure/page" {
    status = 200
  }
  expect "call" {
    count = 3
  }
  expect "on_failure/page" {
    json = { error = "step call: run timed out: its timeout of 2.5s passed", step = "call" }
  }
}

test "delays side by side do not add up" {
  workflow = "fanout"
  mock "items" {
    responses = [{ status = 503 }, { status = 200 }]
  }
  expect "items" {
    count = 6
  }
}

test "a child's time counts" {
  workflow   = "parent"
  expect_run = "failed"
}

test "a child within the timeout" {
  workflow = "quick_parent"
}

test "a delay that ends at the timeout fails the run" {
  workflow = "atdeadline"
}

test "attempts that time out take the step's timeout" {
  workflow   = "slowapi"
  expect_run = "failed"
  mock "slow" {
    error = "timeout"
  }
  mock "on_failure/page" {
    status = 200
  }
  expect "slow" {
    count = 2
  }
  expect "on_failure/page" {
    json = { error = "step slow: run timed out: its timeout of 5s passed", step = "slow" }
  }
}
