api "crm" {
  base_url = "https://crm.example.com/api"
  auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secert = "s3cr3t-value"
  }
}
