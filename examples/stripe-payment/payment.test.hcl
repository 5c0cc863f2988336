# Tests of the Stripe payment workflow: hookflow test examples/stripe-payment
# They send nothing: each http step is answered by its mock.

test "a known customer is marked paid and Slack is told" {
  workflow = "stripe_payment"
  event {
    body    = file("event.json")
    headers = { Stripe-Signature = "not checked in tests" }
  }
  mock "find_customer" {
    json = { results = [{ id = "c_17", name = "Jenny Rosen", email = "jenny.rosen@example.com" }] }
  }
  mock "mark_paid" {
    json = { id = "c_17", url = "https://crm.example.com/customers/c_17" }
  }
  mock "notify" {
    # Slack is down once: the step tries again, at once in a test.
    responses = [{ status = 503 }, { status = 200, body = "ok" }]
  }
  expect "find_customer" {
    method = "GET"
    url    = "https://crm.example.com/api/v1/customers?email=jenny.rosen%40example.com"
  }
  expect "mark_paid" {
    method  = "PATCH"
    url     = "https://crm.example.com/api/v1/customers/c_17"
    headers = { Idempotency-Key = "evt_3QdL5k2eZvKYlo2C1mXq8r7T" }
    json = {
      stripe_customer_id = "cus_R1x8PqLm2ZkT0a"
      status             = "paid"
      last_payment       = { amount = 49.99, currency = "USD" }
    }
  }
  expect "notify" {
    count = 2
    json  = { text = "Payment received: 49.99 USD from <https://crm.example.com/customers/c_17|Jenny Rosen> for Order #1042" }
  }
  expect "notify_unknown" {
    skipped = true
  }
}

test "a yen payment without a receipt e-mail looks no one up" {
  workflow = "stripe_payment"
  event {
    body = {
      id       = "evt_1QeYen"
      type     = "payment_intent.succeeded"
      livemode = false
      data = {
        object = {
          id              = "pi_1QeYen"
          amount_received = 5000
          currency        = "jpy"
          customer        = "cus_R9Yen"
          description     = "Order #2001"
          receipt_email   = null
        }
      }
    }
  }
  mock "notify_unknown" {
    status = 200
  }
  expect "find_customer" {
    skipped = true
    count   = 0
  }
  expect "mark_paid" {
    skipped = true
  }
  expect "notify_unknown" {
    json = { text = "Payment received: 5000 JPY from a payer without a receipt e-mail for Order #2001, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_1QeYen|see the payment>" }
  }
}

test "a dinar payment is read in thousandths" {
  workflow = "stripe_payment"
  event {
    body = {
      id       = "evt_1QeKwd"
      type     = "payment_intent.succeeded"
      livemode = false
      data = {
        object = {
          id              = "pi_1QeKwd"
          amount_received = 1500
          currency        = "kwd"
          customer        = "cus_R9Kwd"
          description     = "Order #2002"
          receipt_email   = "sara@example.com"
        }
      }
    }
  }
  mock "find_customer" {
    json = { results = [] }
  }
  mock "notify_unknown" {
    status = 200
  }
  expect "notify_unknown" {
    json = { text = "Payment received: 1.5 KWD from sara@example.com for Order #2002, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_1QeKwd|see the payment>" }
  }
}

test "a payment from someone the CRM does not know is flagged" {
  workflow = "stripe_payment"
  event {
    body = file("event.json")
  }
  mock "find_customer" {
    json = { results = [] }
  }
  mock "notify_unknown" {
    status = 200
  }
  expect "mark_paid" {
    skipped = true
    count   = 0
  }
  expect "notify_unknown" {
    json = { text = "Payment received: 49.99 USD from jenny.rosen@example.com for Order #1042, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_3QdL5k2eZvKYlo2C1c0Tb8yN|see the payment>" }
  }
}

test "a CRM answer without results is read as no customer" {
  workflow = "stripe_payment"
  event {
    body = file("event.json")
  }
  mock "find_customer" {
    json = { total = 0 }
  }
  mock "notify_unknown" {
    status = 200
  }
  expect "mark_paid" {
    skipped = true
    count   = 0
  }
  expect "notify_unknown" {
    json = { text = "Payment received: 49.99 USD from jenny.rosen@example.com for Order #1042, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_3QdL5k2eZvKYlo2C1c0Tb8yN|see the payment>" }
  }
}

test "a CRM that keeps failing fails the run" {
  workflow = "stripe_payment"
  event {
    body = file("event.json")
  }
  mock "find_customer" {
    status = 503
  }
  expect "find_customer" {
    count = 5 # the api's retry policy: five attempts in all
  }
  expect_run = "failed"
}

test "other Stripe events start no run" {
  workflow = "stripe_payment"
  event {
    body = { id = "evt_1", type = "charge.refunded" }
  }
  expect_run = "filtered"
}

# Slack reads <, > and & as markup: the payer's e-mail, the description and the
# customer's name are shown as written, so that none notifies anyone or makes a link of
# its own.
test "the payer's and the customer's texts are escaped for Slack" {
  workflow = "stripe_payment"
  event {
    body = {
      id       = "evt_1QeEsc"
      type     = "payment_intent.succeeded"
      livemode = false
      data = {
        object = {
          id              = "pi_1QeEsc"
          amount_received = 2500
          currency        = "eur"
          customer        = "cus_R9Esc"
          description     = "Order <#2003> & gift wrap"
          receipt_email   = "\"<!here>\"@example.com"
        }
      }
    }
  }
  mock "find_customer" {
    json = { results = [{ id = "c_18", name = "<https://evil.example|Jenny> & <!channel>" }] }
  }
  mock "mark_paid" {
    json = { id = "c_18", url = "https://crm.example.com/customers/c_18" }
  }
  mock "notify" {
    body = "ok"
  }
  expect "find_customer" {
    url = "https://crm.example.com/api/v1/customers?email=%22%3C%21here%3E%22%40example.com"
  }
  expect "shown" {
    output = {
      email       = "\"&lt;!here&gt;\"@example.com"
      description = "Order &lt;#2003&gt; &amp; gift wrap"
      name        = "&lt;https://evil.example|Jenny&gt; &amp; &lt;!channel&gt;"
    }
  }
  expect "notify" {
    json = { text = "Payment received: 25 EUR from <https://crm.example.com/customers/c_18|&lt;https://evil.example|Jenny&gt; &amp; &lt;!channel&gt;> for Order &lt;#2003&gt; &amp; gift wrap" }
  }
}
