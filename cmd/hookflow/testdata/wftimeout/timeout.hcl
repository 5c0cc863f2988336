# Workflows whose delays, retries' waits and waits' timeouts pass their timeout:
# hookflow test fails them as serve would (timeout_test.go).

workflow "short" {
  timeout = "3s"
  trigger "webhook" {
    path = "/short"
  }
  step "wait" "approval" {
    timeout    = "1h"
    on_timeout = "continue"
  }
  step "log" "after" {
    message = "timed_out={{ steps.approval.timed_out }}"
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}

workflow "slowdelay" {
  timeout = "2s"
  trigger "webhook" {
    path = "/slowdelay"
  }
  step "delay" "d" {
    duration = "10s"
  }
  step "log" "after" {
    message = "after"
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}

workflow "rt" {
  timeout = "2500ms"
  trigger "webhook" {
    path = "/rt"
  }
  step "http" "call" {
    url = "https://api.example.com/call"
    retry {
      attempts = 5
      backoff  = "constant"
      initial  = "1s"
    }
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}

# Delays that run side by side take as long as the longest of them: 1.5s each, 3s
# added up, under a timeout of 2s.
workflow "fanout" {
  timeout = "2s"
  trigger "webhook" {
    path = "/fanout"
  }
  parallel "both" {
    step "delay" "a" {
      duration = "1500ms"
    }
    step "delay" "b" {
      duration = "1500ms"
    }
  }
  step "http" "items" {
    for_each = "[1, 2, 3]"
    url      = "https://api.example.com/items/{{ each.value }}"
    retry {
      attempts = 2
      initial  = "400ms"
    }
  }
  step "log" "after" {
    message = "done"
  }
}

# A child run's time counts towards its parent's timeout: 5s of slow_child's past 2s,
# 1s of quick_child's within them.
workflow "parent" {
  timeout = "2s"
  trigger "webhook" {
    path = "/parent"
  }
  step "workflow" "child" {
    workflow = "slow_child"
  }
  step "log" "after" {
    message = "after"
  }
}

workflow "slow_child" {
  step "delay" "d" {
    duration = "5s"
  }
  step "log" "done" {
    message = "done"
  }
}

workflow "quick_parent" {
  timeout = "2s"
  step "workflow" "child" {
    workflow = "quick_child"
  }
  step "delay" "d" {
    duration = "900ms"
  }
}

workflow "quick_child" {
  step "delay" "d" {
    duration = "1s"
  }
}

# A delay that ends at the timeout fails, as serve fails it at its deadline.
workflow "atdeadline" {
  timeout = "2s"
  step "delay" "d" {
    duration = "2s"
  }
}

# An attempt that times out takes the step's timeout: 2s, then 1s before the next,
# which times out at 5s, the run's timeout.
workflow "slowapi" {
  timeout = "5s"
  trigger "webhook" {
    path = "/slowapi"
  }
  step "http" "slow" {
    url     = "https://api.example.com/slow"
    timeout = "2s"
    retry {
      attempts = 5
      backoff  = "constant"
      initial  = "1s"
    }
  }
  on_failure {
    step "http" "page" {
      url  = "https://pager.example.com/page"
      json = { error = "{{ run.error }}", step = "{{ run.failed_step }}" }
    }
  }
}
