workflow "orders" {
  step "http" "notify" {
    urll = "https://hooks.example.com/notify"
  }
}
