workflow "london" {
  trigger "schedule" {
    every    = "1d"
    timezone = "Europe/London"
  }
}

workflow "paris" {
  trigger "schedule" {
    every    = "1d"
    timezone = "Europe/Paris"
  }
}

workflow "kolkata" {
  trigger "schedule" {
    every    = "1h"
    timezone = "Asia/Kolkata"
  }
}

# Ticks every 10 minutes fall alike on every clock of whole hours: nothing to say.
workflow "paris_10m" {
  trigger "schedule" {
    every    = "10m"
    timezone = "Europe/Paris"
  }
}
