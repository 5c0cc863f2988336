# A filter that is never true: each webhook is parsed, filtered and answered
# 200 {"status":"filtered"}, and nothing is queued or delivered. Measures acceptance
# alone; no sink is needed.
#
#   hookbench --target http://127.0.0.1:8080/hooks/bench/filtered

workflow "bench_filtered" {
  description = "Drops every bench event at the filter"

  trigger "webhook" {
    path = "/bench/filtered"
  }

  filter = "event.body.kind == 'never'"
}
