workflow "p" {
  trigger "webhook" {
    path = "/p"
  }
  parallel "notify" {
    step "http" "slack" {
      method = "POST"
      url    = "https://slack.example.com/x"
    }
    step "http" "email" {
      method = "POST"
      url    = "https://mail.example.com/x"
      retry {
        attempts = 1
      }
    }
  }
}
