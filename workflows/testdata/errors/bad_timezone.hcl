workflow "nightly" {
  trigger "schedule" {
    cron     = "0 3 * * *"
    timezone = "Paris"
  }
}
