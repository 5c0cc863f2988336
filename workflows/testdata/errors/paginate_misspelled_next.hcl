workflow "sync" {
  step "http" "customers" {
    url = "https://crm.example.com/customers"
    paginate {
      nxt   = "link_next(response)"
      items = "response.body.data"
    }
  }
}
