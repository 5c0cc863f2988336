workflow "orders" {
  filter = "len(event.body.items)"
}
