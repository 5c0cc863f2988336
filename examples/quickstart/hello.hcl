# The quick start. POST a name to /hooks/hello:
#
#   curl -s localhost:8080/hooks/hello -H 'Content-Type: application/json' -d '{"name":"Ada"}'
#
# Step "greet" posts a greeting to another webhook of this same hookflow, /hooks/greeting,
# which starts a run of the "greeting" workflow. Its answer holds that run's status URL,
# and step "check" reads it. Both calls stay on this machine, and hookflow refuses calls
# to private addresses unless told otherwise, so serve this example with
# --allow-net 127.0.0.1/32.

vars {
  # Where this hookflow's webhooks answer; change it if you serve with another --listen.
  hooks = env("QUICKSTART_HOOKS_URL", "http://127.0.0.1:8080/hooks")
}

workflow "hello" {
  description = "Greets a name through another workflow, then checks on it"

  trigger "webhook" {
    path = "/hello"
  }

  # Events without a name are answered {"status":"filtered"} and start nothing.
  filter = "event.body.name != nil"

  step "http" "greet" {
    method = "POST"
    url    = "${vars.hooks}/greeting"
    json = {
      message = "Hello, {{ event.body.name }}!"
      length  = "{{ len(event.body.name) }}"
      from    = "{{ run.id }}"
    }
  }

  step "http" "check" {
    url = "{{ steps.greet.body.status_url }}"
  }
}

workflow "greeting" {
  description = "Receives the greeting; its run is what step check reads"

  trigger "webhook" {
    path = "/greeting"
  }

  filter = "event.body.message startsWith 'Hello'"
}
