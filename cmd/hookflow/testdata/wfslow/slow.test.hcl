test "a run longer than the timeout" {
  workflow = "slow"
}
