workflow "orders" {
  step "http" "notify" {
    url = "https://a.example.com"
  }
  step "http" "notify" {
    url = "https://b.example.com"
  }
}
