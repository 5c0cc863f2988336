workflow "hourly" {
  trigger "poll" {
    every       = "1h"
    url         = "https://shop.example.com/orders"
    items       = "response.body.orders"
    key         = "item.id"
    seen_window = "10m"
  }
}

workflow "weekdays" {
  trigger "poll" {
    cron        = "0 9 * * MON-FRI"
    url         = "https://shop.example.com/orders"
    items       = "response.body.orders"
    key         = "item.id"
    seen_window = "2d"
  }
}

workflow "monthly" {
  trigger "poll" {
    cron  = "0 0 1 * *"
    url   = "https://shop.example.com/orders"
    items = "response.body.orders"
    key   = "item.id"
  }
}

workflow "fine" {
  trigger "poll" {
    cron        = "0 9 * * MON-FRI"
    url         = "https://shop.example.com/orders"
    items       = "response.body.orders"
    key         = "item.id"
    seen_window = "7d"
  }
}

workflow "every_weekday_minute" {
  trigger "poll" {
    cron        = "* * * * MON-FRI"
    url         = "https://shop.example.com/orders"
    items       = "response.body.orders"
    key         = "item.id"
    seen_window = "1h"
  }
}
