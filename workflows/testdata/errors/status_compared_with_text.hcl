workflow "errs" {
  step "http" "h" {
    url      = "https://api.example.com/h"
    on_error = "continue"
  }
  step "log" "ok" {
    if      = "steps.h.status == 'ok'"
    message = "h answered"
  }
  step "log" "created" {
    if      = "steps.h.status in ['200', 201]"
    message = "h created it"
  }
  step "http" "r" {
    for_each = "event.body.items"
    url      = "https://api.example.com/r"
    on_error = "continue"
  }
  step "wait" "approval" {
    timeout    = "1h"
    on_timeout = "continue"
  }
  step "log" "items" {
    message = "{{ all(steps.r, .status != '404') }} {{ steps.r[0].status == 'OK' }} {{ steps.approval.timed_out == 'true' }}"
  }
  step "log" "fine" {
    if      = "steps.h.status == 200 && steps.h.body.status == 'ok' && !steps.approval.timed_out"
    message = "{{ steps.h.status }}"
  }
}
