workflow "orders" {
  step "http" "find_customer" {
    url   = "https://crm.example.com/customers"
    query = { email = "{{ event.body.email }}" }
  }
  step "http" "mark_paid" {
    method = "PATCH"
    url    = "https://crm.example.com/customers/{{ steps.find_customer.id }}"
    json   = { status = "paid" }
  }
}
