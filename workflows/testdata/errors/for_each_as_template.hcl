workflow "orders" {
  step "http" "reserve" {
    for_each = "{{ event.body.items }}"
    url      = "https://warehouse.example.com/reserve/{{ each.value.sku }}"
  }
}
