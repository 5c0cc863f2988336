# expr pipes a value only into a function call: x | upper(), not x | upper.
workflow "orders" {
  filter = "event.body.items | len > 0"

  step "set" "names" {
    shout = "{{ event.body.x | upper }}"
    label = "Order {{ event.body.id | lower() | trim }}!"
  }
}
