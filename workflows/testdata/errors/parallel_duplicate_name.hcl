workflow "orders" {
  step "http" "notify" {
    url = "https://chat.example.com/post"
  }
  parallel "notify" {
    step "http" "crm" {
      url = "https://crm.example.com/notes"
    }
  }
}
