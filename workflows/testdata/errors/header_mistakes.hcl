api "crm" {
  base_url = "https://crm.example.com"
  headers  = { "X Api" = "1", X-Note = "a\nb" }
  auth "header" {
    name  = "X-Key:"
    value = "k-1\n"
  }
}

vars {
  note    = "line one\nline two"
  headers = { "X Team" = "ops" }
}

workflow "w" {
  trigger "webhook" {
    path     = "/w"
    response = "sync"
  }
  step "http" "h" {
    url     = "https://x.example.com/"
    headers = { "Bad Name:" = "v", X-Trace = "run\n{{ run.id }}", X-Id = "{{ event.body.id }}" }
  }
  step "http" "c" {
    api     = "crm"
    url     = "/c"
    headers = { "{{ event.body.name }}" = "v", X-Note = "{{ upper(vars.note) }}", X-Id = "{{ vars.note }}{{ event.body.id }}" }
  }
  step "http" "d" {
    url     = "https://x.example.com/"
    headers = "{{ vars.headers }}"
  }
  step "respond" "r" {
    headers = { "Bad Name" = "v", X-Many = ["a", "b\r"] }
  }
}
