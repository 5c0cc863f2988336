workflow "issues" {
  step "log" "note" {
    message = "labels: {{ join(event.body.issue.labels.*.name, ', ') }}"
  }
}
