workflow "orders" {
}

workflow "orders" {
  description = "the same name again"
}
