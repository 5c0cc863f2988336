workflow "sync" {
  step "http" "customers" {
    url = "https://crm.example.com/customers"
    paginate {
      next  = "with_query(request.url, {cursor: respons.body.next_cursor})"
      items = "response.body.data"
    }
  }
}
