workflow "orders" {
  step "http" "notify" {
    url = event.body.callback_url
  }
}
