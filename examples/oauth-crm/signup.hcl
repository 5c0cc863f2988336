# Website sign-up -> a contact in the sales CRM, with a note of the plan chosen.
#
# The CRM's API takes OAuth2 access tokens (the client credentials grant). hookflow
# fetches one for every step and every process, keeps it encrypted in Redis, fetches a
# new one ahead of its expiry or when the CRM answers 401, and never writes it
# anywhere. See README.md to try it.

api "sales" {
  base_url = env("SALES_URL", "https://crm.example.com/api/v2")
  headers  = { Accept = "application/json" }
  timeout  = "10s"
  retry {
    attempts = 5
    backoff  = "exponential"
    initial  = "1s"
    max      = "1m"
  }
  auth "oauth2" {
    token_url     = env("SALES_TOKEN_URL", "https://auth.example.com/oauth/token")
    client_id     = env("SALES_CLIENT_ID", "hookflow")
    client_secret = secret("SALES_CLIENT_SECRET")
    scopes        = ["contacts:write", "notes:write"]
  }
}

workflow "signup_to_crm" {
  description = "Website sign-up -> CRM contact -> note of the plan"

  trigger "webhook" {
    path = "/signups"
  }

  # Sign-ups without an e-mail are answered {"status":"filtered"} and start nothing.
  filter = "event.body.email != nil"

  # The CRM answers {"id": "ct_..."}. The Idempotency-Key is the sign-up's, so a
  # repeated sign-up makes one contact.
  step "http" "contact" {
    api             = "sales"
    method          = "POST"
    url             = "/contacts"
    idempotency_key = "signup-{{ event.body.id }}"
    json = {
      email  = "{{ event.body.email }}"
      name   = "{{ event.body.name }}"
      source = "website"
    }
  }

  step "http" "note" {
    api  = "sales"
    url  = "/contacts/{{ steps.contact.body.id }}/notes"
    json = { text = "Signed up for the {{ event.body.plan }} plan" }
  }
}
