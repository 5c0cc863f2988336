workflow "reminder" {
  step "delay" "wait" {
  }
}
