workflow "clerk_users" {
  trigger "webhook" {
    path = "/clerk"
    verify "svix" {
      secrets = [secret("CLERK_WEBHOOK_SECRET")]
    }
  }
}

workflow "sms" {
  trigger "webhook" {
    path = "/twilio/sms"
    verify "Twilio" {
      username = "twilio"
      password = [secret("TWILIO_PASS")]
    }
  }
}
