# Tests of the sign-up workflow: hookflow test examples/oauth-crm
# They send nothing: each http step is answered by its mock.

test "a sign-up becomes a contact with a note of its plan" {
  workflow = "signup_to_crm"
  event {
    body = file("event.json")
  }
  mock "contact" {
    status = 201
    json   = { id = "ct_42" }
  }
  mock "note" {
    status = 201
    json   = { id = "nt_7" }
  }
  expect "contact" {
    method  = "POST"
    url     = "https://crm.example.com/api/v2/contacts"
    headers = { Idempotency-Key = "signup-su_1001" }
    json    = { email = "ada@example.com", name = "Ada Lovelace", source = "website" }
  }
  expect "note" {
    method = "POST"
    url    = "https://crm.example.com/api/v2/contacts/ct_42/notes"
    json   = { text = "Signed up for the team plan" }
  }
}

test "a CRM that keeps failing fails the run, and no note is written" {
  workflow = "signup_to_crm"
  event {
    body = file("event.json")
  }
  mock "contact" {
    status = 503
  }
  expect "contact" {
    count = 5 # the api's retry policy: five attempts in all
  }
  expect "note" {
    count = 0
  }
  expect_run = "failed"
}

test "a sign-up without an e-mail starts nothing" {
  workflow = "signup_to_crm"
  event {
    body = { id = "su_1002", name = "Ada Lovelace", plan = "team" }
  }
  expect_run = "filtered"
}

# Without its id, every such sign-up would be sent with one Idempotency-Key, "signup-",
# and a CRM honouring it would keep only the first.
test "a sign-up without an id starts nothing" {
  workflow = "signup_to_crm"
  event {
    body = { email = "grace@example.com", name = "Grace Hopper", plan = "team" }
  }
  expect_run = "filtered"
}

test "a sign-up with an empty id starts nothing" {
  workflow = "signup_to_crm"
  event {
    body = { id = "", email = "grace@example.com", name = "Grace Hopper", plan = "team" }
  }
  expect_run = "filtered"
}
