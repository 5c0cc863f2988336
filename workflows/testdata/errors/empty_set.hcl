workflow "orders" {
  step "set" "totals" {
  }
}
