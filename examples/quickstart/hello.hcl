# The quick start. POST a name to /hooks/hello:
#
#   curl -s localhost:8080/hooks/hello -H 'Content-Type: application/json' -d '{"name":"Ada"}'
#
# Step "greet" posts the name to another webhook of this same hookflow, /hooks/greeting,
# whose workflow answers it at once with a greeting (a sync webhook: its respond step is
# the answer), and step "say" logs what came back, so it works offline. Both calls stay
# on this machine, and hookflow refuses calls to private addresses unless told
# otherwise, so serve this example with --allow-net 127.0.0.1/32.

vars {
  # Where this hookflow's webhooks answer; change it if you serve with another --listen.
  hooks = env("QUICKSTART_HOOKS_URL", "http://127.0.0.1:8080/hooks")
}

workflow "hello" {
  description = "Greets a name through another workflow, then says what it answered"

  trigger "webhook" {
    path = "/hello"
  }

  # Events without a name are answered {"status":"filtered"} and start nothing.
  filter = "event.body.name != nil"

  step "http" "greet" {
    method = "POST"
    url    = "${vars.hooks}/greeting"
    json = {
      name = "{{ event.body.name }}"
      from = "{{ run.id }}"
    }
  }

  step "log" "say" {
    message = "{{ steps.greet.body.message }} ({{ steps.greet.body.length }} letters)"
  }
}

workflow "greeting" {
  description = "Answers with a greeting, as the answer to its webhook"

  trigger "webhook" {
    path     = "/greeting"
    response = "sync" # the webhook answers with the run's respond step
  }

  filter = "event.body.name != nil"

  step "respond" "answer" {
    json = {
      message = "Hello, {{ event.body.name }}!"
      length  = "{{ len(event.body.name) }}"
    }
  }
}
