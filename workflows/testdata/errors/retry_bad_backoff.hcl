workflow "orders" {
  step "http" "notify" {
    url = "https://hooks.example.com/notify"
    retry {
      attempts = 5
      backoff  = "linear"
    }
  }
}
