workflow "orders" {
  step "log" "note" {
    message = "order {{ event.body.id }}"
  }
  step "http" "notify" {
    if   = "steps.note.status == 'succeeded'"
    url  = "https://hooks.example.com/orders"
    json = { text = "noted" }
  }
}
