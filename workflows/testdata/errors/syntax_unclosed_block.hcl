workflow "orders" {
  trigger "webhook" {
    path = "/orders"
