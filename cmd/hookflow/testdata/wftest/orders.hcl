workflow "order" {
  trigger "webhook" {
    path = "/order"
  }
  filter = "event.body.total > 0"

  step "http" "find" {
    method = "GET"
    url    = "https://crm.example.com/customers"
    query  = { email = "{{ event.body.email }}" }
    retry {
      attempts = 3
      initial  = "1h"
    }
  }

  step "http" "mark" {
    if      = "steps.find.body.id != nil"
    method  = "PATCH"
    url     = "https://crm.example.com/customers/{{ steps.find.body.id }}"
    headers = { X-Order = "{{ event.body.id }}" }
    json    = { status = "paid", total = "{{ event.body.total }}" }
  }

  step "delay" "wait" {
    duration = "24h"
  }

  step "set" "summary" {
    customer = "{{ steps.find.body.id ?? 'none' }}"
  }
}
