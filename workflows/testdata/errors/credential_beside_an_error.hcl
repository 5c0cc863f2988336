api "crm" {
  base_url = "https://crm.example.com/api"
}

workflow "sync" {
  step "http" "push" {
    url     = "https://crm.example.com/api/contacts"
    headers = { Authorization = "Bearer TOPSECRET2-in-the-file", X-Trace = "{{ nosuch.x }}" }
  }
}
