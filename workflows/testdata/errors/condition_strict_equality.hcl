workflow "orders" {
  filter = "event.body.status === 'paid'"
  step "log" "note" {
    if      = "event.body.note !== nil"
    message = "{{ event.body.total === 0 ? 'free' : 'paid' }}"
  }
}
