workflow "orders" {
  step "http" "notify" {
    method = "FETCH"
    url    = "https://hooks.example.com/notify"
  }
}
