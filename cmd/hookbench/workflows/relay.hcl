# One webhook, one delivery: the cost of accepting a webhook, queueing a run and
# making one http call. Serve with --allow-net 127.0.0.1/32 when the sink is local.
#
#   hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999

workflow "bench_relay" {
  description = "Relays each bench event to the hookbench sink"

  trigger "webhook" {
    path = "/bench/relay"
  }

  filter = "event.body.kind == 'bench'"

  step "http" "relay" {
    method = "POST"
    url    = "${vars.sink}/relay"
    json = {
      seq     = "{{ event.body.seq }}"
      sent_ns = "{{ event.body.sent_ns }}"
    }
  }
}
