workflow "orders" {
  filter = "steps.find.status == 200"
}
