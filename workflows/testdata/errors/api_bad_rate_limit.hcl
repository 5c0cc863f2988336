api "crm" {
  base_url    = "https://crm.example.com/api"
  rate_limit  = "10 per second"
  concurrency = 0
}
