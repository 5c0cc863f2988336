workflow "orders" {
  step "http" "notify" {
    url  = "https://hooks.example.com/notify"
    json = { paid = true }
    body = "paid"
  }
}
