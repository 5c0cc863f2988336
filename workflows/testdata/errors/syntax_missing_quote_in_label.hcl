workflow "orders" {
  description = "orders: find the customer"
  step "http" "find_customer {
    url = "https://crm.example.com/customers"
  }
  step "http" "update" {
    url = "https://crm.example.com/customers/x"
  }
}
