# Tests of the Slack slash command: hookflow test examples/slack-form
# They send nothing: the helpdesk is answered by a mock.

test "the user's open tickets are listed, their subjects escaped" {
  workflow = "slack_tickets"
  event {
    body    = file("event.form")
    headers = { Content-Type = "application/x-www-form-urlencoded", X-Slack-Signature = "not checked in tests" }
  }
  mock "tickets" {
    json = {
      tickets = [
        { id = 812, subject = "Refund <urgent> & late", url = "https://helpdesk.example.com/t/812" },
        { id = 815, subject = "Login fails", url = "https://helpdesk.example.com/t/815" },
      ]
    }
  }
  expect "tickets" {
    method = "GET"
    url    = "https://helpdesk.example.com/api/v2/tickets?search=&slack_user=U2CERLKJA&status=open"
  }
  expect "answer" {
    output = {
      body = {
        response_type = "ephemeral"
        text          = "Your open tickets:\n• <https://helpdesk.example.com/t/812|#812> Refund &lt;urgent&gt; &amp; late\n• <https://helpdesk.example.com/t/815|#815> Login fails\n"
      }
    }
  }
  expect "none" {
    skipped = true
  }
}

test "a user without open tickets is told so" {
  workflow = "slack_tickets"
  event {
    body    = "user_id=U2CERLKJA&command=%2Ftickets&text=refund"
    headers = { Content-Type = "application/x-www-form-urlencoded" }
  }
  mock "tickets" {
    json = { tickets = [] }
  }
  expect "tickets" {
    url = "https://helpdesk.example.com/api/v2/tickets?search=refund&slack_user=U2CERLKJA&status=open"
  }
  expect "none" {
    output = { body = { text = "You have no open tickets matching refund." } }
  }
  expect "answer" {
    skipped = true
  }
}

test "a helpdesk that does not answer is reported to the user" {
  workflow = "slack_tickets"
  event {
    body    = file("event.form")
    headers = { Content-Type = "application/x-www-form-urlencoded" }
  }
  mock "tickets" {
    error = "timeout"
  }
  expect "unavailable" {
    output = { body = { text = "The helpdesk did not answer; try again in a minute." } }
  }
}

test "a helpdesk answer without a list of tickets is reported as unavailable" {
  workflow = "slack_tickets"
  event {
    body    = file("event.form")
    headers = { Content-Type = "application/x-www-form-urlencoded" }
  }
  mock "tickets" {
    json = { results = [] }
  }
  expect "unavailable" {
    output = { body = { text = "The helpdesk did not answer; try again in a minute." } }
  }
  expect "answer" {
    skipped = true
  }
}
