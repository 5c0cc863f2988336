workflow "orders" {
  step "http" "notify" {
    url  = "https://hooks.example.com/notify"
    json = { text = "Order {{ event.body.id paid" }
  }
}
