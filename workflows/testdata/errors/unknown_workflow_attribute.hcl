workflow "orders" {
  filtr = "event.body.paid"
}
