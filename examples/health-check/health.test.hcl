# Tests of the health check: hookflow test examples/health-check
# They send nothing: each http step is answered by its mock.

test "a healthy service pages no one" {
  workflow = "health_check"
  mock "check" {
    status = 200
    body   = "ok"
  }
  expect "check" {
    method = "GET"
    url    = "https://www.example.com/healthz"
  }
  expect "page" {
    skipped = true
    count   = 0
  }
}

test "a blip that passes on the second try pages no one" {
  workflow = "health_check"
  mock "check" {
    responses = [{ status = 503 }, { status = 200 }]
  }
  expect "check" {
    count = 2
  }
  expect "page" {
    skipped = true
  }
}

test "a service that keeps answering 503 is paged once, its status attached" {
  workflow = "health_check"
  mock "check" {
    status = 503
  }
  mock "page" {
    status = 202
    json   = { status = "success", dedup_key = "health-check https://www.example.com/healthz" }
  }
  expect "check" {
    count = 2 # its retry policy: two attempts in all
  }
  expect "page" {
    method = "POST"
    url    = "https://events.pagerduty.com/v2/enqueue"
    json = {
      event_action = "trigger"
      dedup_key    = "health-check https://www.example.com/healthz"
      payload = {
        summary        = "Health check failed: GET https://www.example.com/healthz: status 503 Service Unavailable, expected 2xx"
        source         = "https://www.example.com/healthz"
        severity       = "critical"
        custom_details = { status = 503 }
      }
    }
  }
}

test "a service that does not answer is paged" {
  workflow = "health_check"
  mock "check" {
    error = "timeout"
  }
  mock "page" {
    status = 202
  }
  expect "page" {
    count = 1
    json  = { event_action = "trigger" }
  }
}
