workflow "orders" {
  filter = "lenght(event.body.items) > 0"
}
