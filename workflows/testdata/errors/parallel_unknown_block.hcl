workflow "orders" {
  parallel "notify" {
    stpe "http" "slack" {
      url = "https://chat.example.com/post"
    }
  }
}
