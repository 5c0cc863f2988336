workflow "order-paid" {
}
