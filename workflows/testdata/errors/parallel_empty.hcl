workflow "orders" {
  parallel "notify" {
  }
}
