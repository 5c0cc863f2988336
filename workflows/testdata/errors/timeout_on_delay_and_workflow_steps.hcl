workflow "order_paid" {
  step "delay" "cool_off" {
    duration = "5s"
    timeout  = "1s"
  }
  step "workflow" "invoice" {
    workflow = "create_invoice"
    timeout  = "2s"
  }
}

workflow "create_invoice" {
  step "log" "note" {
    message = "invoiced"
  }
}
