workflow "new_orders" {
  trigger "poll" {
    every   = "1m"
    url     = "https://shop.example.com/orders?since={{ event.body.since }}"
    query   = { status = "paid", after = "{{ steps.last.body.id }}" }
    headers = { X-Run = "{{ run.id }}", X-Since = "{{ poll.cursor ?? '' }}" }
    items   = "response.body.orders"
    key     = "item.id"
    paginate {
      next = "event.body.next"
    }
  }
  filter = "run.workflow == 'new_orders'"

  step "log" "seen" {
    message = "order {{ event.body.id }} polled at {{ poll.time }}"
  }
}
