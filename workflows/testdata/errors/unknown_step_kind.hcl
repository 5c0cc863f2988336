workflow "orders" {
  step "htp" "notify" {
    url = "https://hooks.example.com/notify"
  }
}
