workflow "orders" {
  concurrency = 10
  timeout     = "1h"

  trigger "webhook" {
    path     = "/orders"
    dedupe   = "{{ event.body.id }}"
    response = "sync"
  }

  step "http" "notify" {
    url = "https://hooks.example.com/notify"
    retry {
      attempts = 3
    }
  }
}
