workflow "orders" {
  step "http" "notify" {
    url = "https://hooks.example.com/notify"
    retry {
      backoff = "exponential"
    }
  }
}
