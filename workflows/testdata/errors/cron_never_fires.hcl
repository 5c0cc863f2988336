workflow "leap" {
  trigger "schedule" {
    cron = "0 0 30 2 *"
  }
}
