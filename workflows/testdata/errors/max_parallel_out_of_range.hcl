workflow "orders" {
  step "http" "reserve" {
    for_each     = "event.body.items"
    max_parallel = 0
    url          = "https://warehouse.example.com/reserve/{{ each.value.sku }}"
  }
  step "http" "release" {
    for_each     = "event.body.items"
    max_parallel = 1001
    url          = "https://warehouse.example.com/release/{{ each.value.sku }}"
  }
}
