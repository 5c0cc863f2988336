# Secrets, passwords and tokens of a verify block written out in the file.
workflow "signed" {
  trigger "webhook" {
    path = "/signed"
    verify "github" {
      secrets = ["gh-secret-in-the-file", secret("GITHUB_WEBHOOK_SECRET")]
    }
  }
  step "log" "seen" {
    message = "ok"
  }
}

workflow "basic" {
  trigger "webhook" {
    path = "/basic"
    verify "basic" {
      username = "shop"
      password = ["basic-pw-in-the-file", "short"]
    }
  }
  step "log" "seen" {
    message = "ok"
  }
}

workflow "bearer" {
  trigger "webhook" {
    path = "/bearer"
    verify "bearer" {
      tokens = "bearer-token-in-the-file"
    }
  }
  step "log" "seen" {
    message = "ok"
  }
}
