workflow "orders" {
  filter = "event.body.status = 'paid'"
}
