workflow "order_paid" {
  step "http" "charge" {
    url  = "https://pay.example.com/charges"
    json = { run = "{{ run.idd }}", workflow = "{{ run.workflow }}", version = "{{ run.version }}" }
  }
  step "log" "done" {
    message = "run {{ run.id }} of {{ run.foo.bar }}: {{ run.error }}"
  }

  on_failure {
    step "http" "notify" {
      url  = "https://hooks.example.com/alerts"
      json = { step = "{{ run.failed_step }}", error = "{{ run.eror }}", id = "{{ run['id'] }}" }
    }
  }
}
