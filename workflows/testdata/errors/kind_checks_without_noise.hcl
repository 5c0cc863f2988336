# A mistake in an attribute is reported once: what the kind would say of the same
# attribute, or of its absence, is not.
api "crm" {
  base_url = "https://crm.example.com/api"
}

workflow "signups" {
  trigger "webhook" {
    path             = "/signups"
    respons          = "sync"
    response_timeout = "5s"
  }

  step "delay" "settle" {
    duraton = "10m"
  }

  step "delay" "cool_down" {
    duration = "{{ evnt.body.wait }}"
  }

  step "http" "contact" {
    api = "crmm"
    url = "/contacts"
  }

  step "http" "notify" {
    method = "FETCH"
  }

  step "http" "audit" {
    url  = "https://audit.example.com/{{ stpes.contact.body.id }}"
    json = { id = "{{ event.body.id }}" }
    body = "also a body"
  }
}
