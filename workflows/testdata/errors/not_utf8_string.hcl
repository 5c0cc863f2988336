# A string with bytes that are not UTF-8 (the file saved as Latin-1): the string is
# closed, the file is what is wrong.
workflow "q" {
  description = "ÿþ bad"
  step "log" "l" {
    message = "hi"
  }
}
