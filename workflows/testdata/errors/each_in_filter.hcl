workflow "orders" {
  filter = "each.value.amount > 100"
}
