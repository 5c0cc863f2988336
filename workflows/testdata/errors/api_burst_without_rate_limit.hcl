api "crm" {
  base_url = "https://crm.example.com/api"
  burst    = 20
}
