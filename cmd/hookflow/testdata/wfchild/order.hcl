workflow "order" {
  step "workflow" "invoice" {
    workflow = "create_invoice"
    input    = { order = "{{ event.body.id }}" }
  }

  step "http" "notify" {
    url  = "https://chat.example.com/post"
    json = { text = "invoice {{ steps.invoice.result.number }}" }
  }
}

workflow "create_invoice" {
  step "http" "create" {
    method = "POST"
    url    = "https://billing.example.com/invoices"
    json   = { order = "{{ event.body.order }}" }
  }

  step "set" "answer" {
    number = "{{ steps.create.body.number }}"
  }
}

workflow "batch" {
  step "workflow" "invoices" {
    for_each = "event.body.orders"
    workflow = "create_invoice"
    input    = { order = "{{ each.value }}" }
  }

  step "set" "numbers" {
    all = "{{ map(steps.invoices, .result.number) }}"
  }
}
