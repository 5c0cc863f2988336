workflow "orders" {
  step "http" "notify" {
    url  = "https://hooks.example.com/notify"
    json = { text = "Order {{ evnt.body.id }} paid" }
  }
}
