workflow "orders" {
  step "http" "notify" {
    method = "POST"
  }
}
