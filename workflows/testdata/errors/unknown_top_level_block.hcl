workflw "orders" {
}
