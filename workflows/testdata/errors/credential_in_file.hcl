vars {
  crm_password = "a-password-in-the-file"
}

api "billing" {
  base_url = "https://billing.example.com/v1"
  auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secret = "SuperSecretClientValue123"
  }
}

api "crm" {
  base_url = "https://crm.example.com/api"
  headers  = { Authorization = "Bearer crm-token-in-the-file" }
}

workflow "orders" {
  step "http" "notify" {
    url        = "https://hooks.example.com/orders"
    basic_auth = { username = "hookflow", password = vars.crm_password }
  }
  step "http" "ship" {
    url     = "https://ship.example.com/labels"
    headers = { "authorization" = "Bearer ship-token-in-the-file" }
  }
  step "http" "confirm" {
    url     = "https://ship.example.com/confirm"
    headers = { Authorization = "Bearer {{ steps.ship.body.token }}" }
  }
}
