api "crm" {
  base_url = "https://crm.example.com/api"
}

workflow "sync" {
  step "http" "find" {
    api = "crm"
    url = "https://crm.example.com/api/customers/{{ event.body.id }}"
  }
}
