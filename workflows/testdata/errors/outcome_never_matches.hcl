workflow "errs" {
  step "http" "a" {
    url      = "https://api.example.com/a"
    on_error = "continue"
  }
  step "log" "ok" {
    if      = "steps.a.outcome == 'success'"
    message = "a worked"
  }
  step "log" "bad" {
    if      = "steps.a.outcome in ['failure', 'cancelled']"
    message = "a failed"
  }
  step "http" "r" {
    for_each = "event.body.items"
    url      = "https://api.example.com/r"
    on_error = "continue"
  }
  step "log" "items" {
    message = "{{ all(steps.r, .outcome != 'Succeeded') }} {{ steps.r[0].outcome == 'canceled' }}"
  }
}
