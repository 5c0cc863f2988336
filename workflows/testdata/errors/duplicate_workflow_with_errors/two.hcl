workflow "dup" {
  trigger "webhook" {
    path = "/two"
  }

  step "log" "b" {
    message = "other"
  }
}
