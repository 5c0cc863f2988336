workflow "deal" {
  trigger "webhook" {
    path = "/deal"
  }

  step "http" "create" {
    url     = "https://crm.example.com/deals"
    method  = "POST"
    headers = { Authorization = "Bearer ${secret("CRM_TOKEN")}", X-Plain = "plain", X-Api-Key = "written-key" }
    json    = { ok = true }
  }
}
