workflow "orders" {
  step "http" "update" {
    url = "https://crm.example.com/customers/{{ steps.find.body.id }}"
  }
  step "http" "find" {
    url = "https://crm.example.com/customers"
  }
}
