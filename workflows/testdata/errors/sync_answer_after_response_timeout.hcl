workflow "slash" {
  trigger "webhook" {
    path             = "/slash"
    response         = "sync"
    response_timeout = "2500ms"
  }

  step "http" "tickets" {
    url      = "https://helpdesk.example.com/tickets"
    timeout  = "2s"
    on_error = "continue"
    retry {
      attempts = 3
      backoff  = "constant"
      initial  = "1s"
    }
  }

  parallel "more" {
    step "http" "quick" {
      url     = "https://helpdesk.example.com/quick"
      timeout = "100ms"
    }
    step "wait" "approval" {
      timeout = "1s"
    }
  }

  step "respond" "answer" {
    json = { text = "{{ steps.tickets.outcome }}" }
  }

  step "http" "later" {
    url     = "https://helpdesk.example.com/later"
    timeout = "1m"
  }
}
