# Website sign-up -> a contact in the sales CRM, with a note of the plan chosen.
#
# The website's back end POSTs each sign-up to https://YOUR-HOST/hooks/signups, signed
# with SIGNUPS_WEBHOOK_SECRET. The CRM's API takes OAuth2 access tokens (the client credentials grant). hookflow
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

  # Only the website's back end may write contacts into the CRM: it signs the body with
  # HMAC-SHA256, hex, in X-Signature-256 (sha256= in front). A sign-up sent again (the
  # back end retrying after a timeout) starts nothing within a day: its id is its
  # delivery id. A website's sign-ups come far below 600 a minute: past that (each
  # hookflow process counts its own), they are answered 429 and the back end sends them
  # again later, so that a sender gone wrong, or a stolen secret, makes only so many.
  trigger "webhook" {
    path = "/signups"
    verify "hmac" {
      secrets   = [secret("SIGNUPS_WEBHOOK_SECRET")]
      header    = "X-Signature-256"
      algorithm = "sha256"
      prefix    = "sha256="
    }
    dedupe     = "{{ event.body.id }}"
    rate_limit = "600/m"
  }

  # Sign-ups without an id or an e-mail are answered {"status":"filtered"} and start
  # nothing: without its id, a sign-up could be neither deduplicated nor told from
  # another one by the CRM.
  filter = "(event.body.id ?? '') != '' && event.body.email != nil"

  # The CRM answers {"id": "ct_..."}. The Idempotency-Key is the sign-up's, so a
  # repeated sign-up makes one contact, even past the day its id is deduplicated.
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
