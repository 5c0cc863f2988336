workflow "new_orders" {
  trigger "poll" {
    every  = "1m"
    url    = "https://shop.example.com/orders"
    query  = { since = "{{ poll.cursor ?? '' }}" }
    items  = "item.orders"
    key    = "response.body.next_cursor"
    cursor = "item.id"
  }
}

workflow "recent_orders" {
  trigger "poll" {
    every = "1m"
    url   = "https://shop.example.com/orders"
    items = "respons.body.orders"
    key   = "item.id + poll.time"
  }
}
