workflow "orders" {
  step "http" "find" {
    url = "https://crm.example.com/customers"
  }
  step "http" "update" {
    url = "https://crm.example.com/customers/${steps.find.body.id}"
  }
}
