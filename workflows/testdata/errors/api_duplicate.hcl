api "crm" {
  base_url = "https://crm.example.com/api"
}

api "crm" {
  base_url = "https://crm.example.com/v2"
}
