vars {
  crm       = "https://crm.example.com"
  customers = "${vars.crm}/customers"
}
