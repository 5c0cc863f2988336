workflow "linear" {
  trigger "webhook" {
    path   = "/linear"
    dedupe = "{{ event.headers['linear-signature'] }}"
  }
  filter = "event.headers['x-api-key'] != '' && event.headers['linear-event'] == 'Issue'"
  step "log" "note" {
    message = "signed {{ event.headers?.authorization }} by {{ event.headers['linear-delivery'] }}"
  }
}
