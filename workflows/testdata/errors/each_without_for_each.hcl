workflow "orders" {
  step "http" "reserve" {
    for_each = "event.body.items"
    url      = "https://warehouse.example.com/reserve/{{ each.value.sku }}"
  }
  step "http" "notify" {
    url  = "https://chat.example.com/post"
    json = { text = "Reserved {{ each.value.sku }}" }
  }
}
