workflow "orders" {
  step "http" "notify" {
    url     = "https://hooks.example.com/notify"
    headers = { Authorization = "Bearer ${secret("HOOKFLOW_GOLDEN_UNSET_TOKEN")}" }
  }
}
