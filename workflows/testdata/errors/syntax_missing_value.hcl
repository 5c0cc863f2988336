workflow "orders" {
  description =
}
