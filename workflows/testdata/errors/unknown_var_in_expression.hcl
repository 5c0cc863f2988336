vars {
  channel = "#orders"
}

workflow "orders" {
  filter = "vars.chanel == '#orders'"

  step "log" "note" {
    message = "{{ vars.nope }} {{ vars.chanel }}"
  }
}
