workflow "issues" {
  filter = "${{ event.body.action == 'opened' }}"
  step "log" "note" {
    message = "issue opened"
  }
}
