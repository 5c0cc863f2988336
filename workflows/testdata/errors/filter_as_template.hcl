workflow "orders" {
  filter = "{{ event.body.paid }}"
}
