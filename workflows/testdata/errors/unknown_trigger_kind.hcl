workflow "nightly" {
  trigger "cron" {
    spec = "0 3 * * *"
  }
}
