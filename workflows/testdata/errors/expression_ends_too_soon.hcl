workflow "orders" {
  step "http" "notify" {
    url  = "https://hooks.example.com/notify"
    body = "{{ event.body.total + }}"
    if   = "event.body.status in ['paid', 'sent'"
  }
}
