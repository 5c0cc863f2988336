workflow "orders" {
  trigger "webhook" {
    path   = "/orders"
    method = "HEAD"
  }
}
