workflow "orders" {
  filter = "event.body.total + 1"
}
