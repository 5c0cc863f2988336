workflow "orders" {
  step "http" "notify" {
    url    = "https://hooks.example.com/notify"
    expect = [200, 700]
  }
}
