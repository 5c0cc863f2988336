workflow "orders" {
  step "http" "find_customer" {
    url = "https://crm.example.com/customers
    method = "GET"
  }
  step "http" "update" {
    if  = "steps.find_customer.body.id != nil"
    url = "https://crm.example.com/customers/x"
  }
}
