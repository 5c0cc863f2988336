workflow "orders" {
  step "log" "note" {
    if      = "event.body.status"
    message = "order {{ event.body.id }}"
  }
}
