workflow "orders" {
  step "log" "note" {
    if      = "'x'"
    message = "order {{ event.body.id }}"
  }
}
