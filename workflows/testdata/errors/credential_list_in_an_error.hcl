workflow "leaky" {
  trigger "webhook" {
    path = "/leaky"
    verify "github" {
      secrets = ["LISTSECRET_444" + 1, "LISTSECRET_555"]
    }
  }
  step "log" "l" {
    message = "in"
  }
}
