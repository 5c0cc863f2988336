workflow "orders" {
  trigger "webhook" {
    path     = "/orders"
    response = "sync"
  }
  step "respond" "answer" {
    for_each = "event.body.items"
    json     = { sku = "{{ each.value.sku }}" }
  }
}
