# Every minute, GET a health URL; when it does not answer 2xx, or does not answer at
# all, page whoever is on call through PagerDuty's Events API. See README.md.

vars {
  health_url = env("HEALTH_URL", "https://www.example.com/healthz")
  pager_url  = env("PAGER_URL", "https://events.pagerduty.com/v2/enqueue")
}

workflow "health_check" {
  description = "GET a health URL every minute; page when it fails"

  trigger "schedule" {
    every = "1m"
  }

  # A status other than 2xx, a refused connection, a DNS error or no answer within 10s
  # fail the step. It is tried once more after 2s, so that a blip pages no one; if
  # that fails too, on_error = "continue" lets the run go on to the page, with the
  # step's error in steps.check.error.
  step "http" "check" {
    url      = vars.health_url
    timeout  = "10s"
    on_error = "continue"
    retry {
      attempts = 2
      backoff  = "constant"
      initial  = "2s"
    }
  }

  # Skipped when the check succeeded: steps.check.outcome is the step's status, and
  # steps.check.status the HTTP status code it got, if any. PagerDuty keeps one
  # incident per dedup_key, so a service down for an hour pages once, not sixty times.
  step "http" "page" {
    if     = "steps.check.outcome == 'failed'"
    method = "POST"
    url    = vars.pager_url
    json = {
      routing_key  = secret("PAGERDUTY_ROUTING_KEY")
      event_action = "trigger"
      dedup_key    = "health-check ${vars.health_url}"
      payload = {
        summary   = "Health check failed: {{ steps.check.error }}"
        source    = vars.health_url
        severity  = "critical"
        timestamp = "{{ event.received_at }}"
        custom_details = {
          status = "{{ steps.check.status }}"
          run    = "{{ run.id }}"
        }
      }
    }
    retry {
      attempts = 5
      backoff  = "exponential"
      initial  = "2s"
      max      = "30s"
    }
  }
}
