api "crm" {
  base_url = "https://crm.example.com/api"
  auth "baerer" {
    token = "abcdef123"
  }
}
