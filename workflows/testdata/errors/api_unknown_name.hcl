api "crm" {
  base_url = "https://crm.example.com/api"
}

workflow "sync" {
  step "http" "find" {
    api = "cmr"
    url = "/customers"
  }
}
