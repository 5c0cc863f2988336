workflow "orders" {
  step "http" "notify" {
    url      = "https://hooks.example.com/notify"
    on_error = "ignore"
  }
}
