workflow "orders" {
  concurrency = 0
}
