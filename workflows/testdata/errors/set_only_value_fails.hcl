workflow "s" {
  step "set" "four" {
    x = "{{ lenght(event.body.items) }}"
  }
}
