vars {
  client_password = "VARSECRET_666" + 1
  pw              = "VARSECRET_777" + 1
}

workflow "leaky" {
  step "http" "h" {
    url        = "https://api.example.com"
    basic_auth = { username = "hookflow", password = vars.pw }
    headers    = { X-Nested = { token = "NESTEDSECRET_888" + 1 } }
  }
}
