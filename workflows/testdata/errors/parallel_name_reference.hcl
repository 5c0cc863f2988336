workflow "orders" {
  parallel "notify" {
    step "http" "slack" {
      url = "https://chat.example.com/post"
    }
    step "http" "crm" {
      url = "https://crm.example.com/notes"
    }
  }
  step "http" "audit" {
    url  = "https://audit.example.com/log"
    json = { notified = "{{ steps.notify.status }}" }
  }
}
