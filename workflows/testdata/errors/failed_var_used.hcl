vars {
  crm  = env("HOOKFLOW_GOLDEN_UNSET_CRM_URL")
  base = "https://crm.example.com"
  path = "${vars.base}/contacts"
}

workflow "orders" {
  step "http" "notify" {
    url     = "${vars.crm}/notify"
    headers = { X-Path = "${vars.path}" }
  }
}
