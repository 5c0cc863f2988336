workflow "orders" {
  step "http" "find-customer" {
    url = "https://crm.example.com/customers"
  }
}
