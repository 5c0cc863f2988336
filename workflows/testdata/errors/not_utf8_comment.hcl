# café: a comment of a file saved as Latin-1, which HCL would take.
workflow "q" {
  step "log" "l" {
    message = "hi"
  }
}
