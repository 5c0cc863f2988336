workflow "nightly" {
  trigger "schedule" {
    cron = "61 3 * * *"
  }
}
