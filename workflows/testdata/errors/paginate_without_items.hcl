workflow "sync" {
  step "http" "customers" {
    url = "https://crm.example.com/customers"
    paginate {
      next = "link_next(response)"
    }
  }
}
