workflow "orders" {
  step "http" "find_customer" {
    url = "https://crm.example.com/customers"
  }
  step "http" "update" {
    if  = "steps.find_custmer.body.id != nil"
    url = "https://crm.example.com/customers/x"
  }
}
