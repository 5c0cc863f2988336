workflow "issues" {
  step "http" "label" {
    url = "https://api.example.com/issues/${{ event.body.issue.number }}/labels"
  }
}
