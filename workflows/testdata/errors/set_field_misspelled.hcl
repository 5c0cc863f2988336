workflow "orders" {
  step "set" "totals" {
    net   = "{{ event.body.amount / 100 }}"
    gross = "{{ event.body.amount * 1.2 / 100 }}"
  }
  step "log" "note" {
    message = "net {{ steps.totals.nett }}, gross {{ steps.totals.gross }}"
  }
}
