workflow "orders" {
  filter = "event.body.amount >"
}
