workflow "orders" {
  step "http" "reserve" {
    for_each = "each.value.lines"
    url      = "https://warehouse.example.com/reserve"
  }
}
