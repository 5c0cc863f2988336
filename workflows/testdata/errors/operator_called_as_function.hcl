workflow "issues" {
  filter = "contains(event.body.issue.labels.*.name, 'bug')"
  step "log" "note" {
    if      = "startsWith(event.body.ref, 'refs/tags/')"
    message = "{{ contains(event.body.issue.title, 'crash') ? 'crash' : 'other' }}"
  }
}
