# Tests of the refund approval workflow: hookflow test examples/refund-approval
# They send nothing: each http step is answered by its mock, and the wait step by the
# test's resume block, or it times out at once on the test's clock.

test "an approved refund is made" {
  workflow = "refund_request"
  event {
    body = file("event.json")
  }
  mock "ask" {
    body = "ok"
  }
  # As a click on the Approve link, then on the page's button, sends it.
  resume "approval" {
    query = { decision = "approve" }
  }
  mock "refund" {
    json = { id = "re_1", status = "succeeded" }
  }
  expect "ask" {
    method = "POST"
  }
  expect "approval" {
    output = { timed_out = false, query = { decision = "approve" } }
  }
  expect "refund" {
    method = "POST"
    url    = "https://payments.example.com/api/refunds"
    json   = { order_id = "ord_1042", amount = 49.99, currency = "usd", reason = "Arrived damaged" }
  }
  expect "tell_requester" {
    skipped = true
  }
}

# Slack reads <, > and & as markup: the request's texts are shown as written, so that a
# reason makes no link of its own beside Approve and Decline, and notifies no one.
test "the request's texts are escaped for Slack" {
  workflow = "refund_request"
  event {
    body = {
      order_id = "ord_1043"
      amount   = 20
      currency = "eur"
      reason   = "<https://evil.example/x|Approve> <!channel> & more"
      customer = { email = "\"<!here>\"@example.com" }
    }
  }
  mock "ask" {
    body = "ok"
  }
  resume "approval" {
    query = { decision = "decline" }
  }
  mock "tell_requester" {
    json = { id = "msg_3" }
  }
  expect "shown" {
    output = {
      order_id = "ord_1043"
      currency = "EUR"
      email    = "\"&lt;!here&gt;\"@example.com"
      reason   = "&lt;https://evil.example/x|Approve&gt; &lt;!channel&gt; &amp; more"
    }
  }
  expect "ask" {
    count = 1
  }
}

test "a decision posted as JSON counts too" {
  workflow = "refund_request"
  event {
    body = file("event.json")
  }
  mock "ask" {
    body = "ok"
  }
  resume "approval" {
    json = { decision = "approve", by = "U024BE7LH" }
  }
  mock "refund" {
    json = { id = "re_1", status = "succeeded" }
  }
  expect "refund" {
    count = 1
  }
}

test "a declined refund is not made and the requester is told" {
  workflow = "refund_request"
  event {
    body = file("event.json")
  }
  mock "ask" {
    body = "ok"
  }
  resume "approval" {
    query = { decision = "decline" }
  }
  mock "tell_requester" {
    json = { id = "msg_1" }
  }
  expect "refund" {
    skipped = true
    count   = 0
  }
  expect "tell_requester" {
    url  = "https://mail.example.com/api/messages"
    json = { to = "jenny.rosen@example.com", text = "Your refund request was declined; reply to this message to discuss it." }
  }
}

test "no decision within three days: the requester is told" {
  workflow = "refund_request"
  event {
    body = file("event.json")
  }
  mock "ask" {
    body = "ok"
  }
  # No resume block: the wait times out, and goes on (on_timeout = "continue").
  mock "tell_requester" {
    json = { id = "msg_2" }
  }
  expect "approval" {
    output = { timed_out = true }
  }
  expect "refund" {
    skipped = true
  }
  expect "tell_requester" {
    json = { text = "Your refund request has not been decided within three days; we will come back to you." }
  }
}

test "a request for nothing starts no run" {
  workflow = "refund_request"
  event {
    body = { order_id = "ord_1", amount = 0 }
  }
  expect_run = "filtered"
}
