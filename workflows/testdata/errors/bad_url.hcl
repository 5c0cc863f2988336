workflow "orders" {
  step "http" "notify" {
    url = "hooks.example.com/notify"
  }
}
