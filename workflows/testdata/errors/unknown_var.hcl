vars {
  crm = "https://crm.example.com"
}

workflow "orders" {
  step "http" "find" {
    url = "${vars.cmr}/customers"
  }
}
