workflow "orders" {
  step "http" "line" {
    for_each        = "event.body.lines"
    url             = "https://erp.example.com/lines"
    json            = { sku = "{{ each.value.sku }}" }
    idempotency_key = "order-{{ event.body.id }}"
  }
}
