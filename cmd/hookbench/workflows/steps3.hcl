# Three steps per run, each a call to the sink. Each carries the event's sent_ns, so
# the sink's latency on /step3 is that of the whole run, from webhook to last step.
#
#   hookbench --target http://127.0.0.1:8080/hooks/bench/steps3 --sink 127.0.0.1:9999 --expect-paths 3

workflow "bench_steps3" {
  description = "Three sink calls in a chain for each bench event"

  trigger "webhook" {
    path = "/bench/steps3"
  }

  filter = "event.body.kind == 'bench'"

  step "http" "step1" {
    method = "POST"
    url    = "${vars.sink}/step1"
    json = {
      seq     = "{{ event.body.seq }}"
      sent_ns = "{{ event.body.sent_ns }}"
    }
  }

  step "http" "step2" {
    method = "POST"
    url    = "${vars.sink}/step2"
    json = {
      seq     = "{{ event.body.seq }}"
      sent_ns = "{{ event.body.sent_ns }}"
    }
  }

  step "http" "step3" {
    method = "POST"
    url    = "${vars.sink}/step3"
    json = {
      seq     = "{{ event.body.seq }}"
      sent_ns = "{{ event.body.sent_ns }}"
    }
  }
}
