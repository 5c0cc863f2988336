workflow "order_paid" {
  step "workflow" "invoice" {
    workflow = "create_invoice"
    input    = { order = "{{ event.body.id }}" }
  }
  step "workflow" "typo" {
    workflow = "create_invoices"
  }
}

workflow "create_invoice" {
  step "workflow" "back" {
    workflow = "order_paid"
  }
}

workflow "shipping" {
  step "workflow" "notify" {
    workflow = "notify"
    wait     = "yes"
  }
}

workflow "notify" {
  step "log" "note" {
    message = "shipped"
  }
}
