workflow "orders" {
  parallel "notify" {
    step "http" "slack" {
      url = "https://chat.example.com/post"
    }
    step "http" "crm" {
      url  = "https://crm.example.com/notes"
      json = { thread = "{{ steps.slack.body.ts }}" }
    }
  }
}
