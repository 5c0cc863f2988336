workflow "order_paid" {
  step "http" "charge" {
    url = "https://pay.example.com/charges"
  }

  on_failure {
    step "http" "notify" {
      url  = "https://hooks.example.com/alerts"
      json = { step = "{{ run.failed_step }}", error = "{{ run.error }}" }
    }
    step "http" "notify" {
      url = "https://hooks.example.com/again"
    }
    step "http" "each_line" {
      for_each = "event.body.lines"
      url      = "https://hooks.example.com/lines"
    }
    step "respond" "answer" {
      status = 500
    }
    parallel "both" {
      step "http" "one" {
        url = "https://hooks.example.com/one"
      }
    }
  }

  on_failure {
    step "http" "other" {
      url = "https://hooks.example.com/other"
    }
  }
}
