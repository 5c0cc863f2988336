workflow "sync" {
  step "http" "customers" {
    url = "https://crm.example.com/customers"
    paginate {
      nxt       = "link_next(response)"
      max_pages = 0
    }
    retry {
      attempts = 0
      backof   = "linear"
    }
  }
}
