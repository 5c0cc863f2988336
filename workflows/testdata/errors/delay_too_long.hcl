workflow "trial" {
  step "delay" "reminder" {
    duration = "400d"
  }
}
