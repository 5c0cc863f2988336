workflow "relay" {
  step "http" "forward" {
    url     = "https://hooks.example.com/in"
    headers = { X-Signature = "{{ hmac('md5', 'k', event.raw) }}" }
  }
}
