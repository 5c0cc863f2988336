workflow "orders" {
  filter = "event.body.amount ?? 0 > 5"
}
