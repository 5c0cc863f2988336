api "leaky" {
  base_url = "https://api.example.com"
  auth "oauth2" {
    token_url = "https://auth.example.com/t"
    client_id = "cid"
    client_secret = "CLIENTSECRET_literal_222" + 1
  }
}
