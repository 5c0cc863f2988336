workflow "orders" {
  parallel "notify" {
    step "http" "slack" {
      url = "https://chat.example.com/post"
    }
    parallel "crm" {
      step "http" "crm_note" {
        url = "https://crm.example.com/notes"
      }
    }
  }
}
