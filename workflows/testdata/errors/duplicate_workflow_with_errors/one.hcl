# This copy of "dup" has a mistake of its own: both are reported.
workflow "dup" {
  trigger "webhook" {
    path = "/one"
  }

  step "log" "a" {
    message = "first"
  }

  step "log" "a" {
    message = "second"
  }
}
