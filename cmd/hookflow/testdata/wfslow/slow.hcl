# A run of 10,000 steps one after another: it takes seconds, longer than the
# --timeout TestTestTimeout gives it (testtimeout_test.go).

workflow "slow" {
  trigger "webhook" {
    path = "/slow"
  }
  step "log" "each" {
    for_each     = "0..9999"
    max_parallel = 1
    message      = "item {{ each.key }}"
  }
}
