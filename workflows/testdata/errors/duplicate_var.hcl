vars {
  crm = "https://crm.example.com"
}

vars {
  crm = "https://crm2.example.com"
}
