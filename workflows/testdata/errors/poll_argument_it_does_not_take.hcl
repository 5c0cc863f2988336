# A poll sends a JSON body only: form, an http step's, is not one of its arguments,
# and no likely misspelling of one. The error says what a poll takes.
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "https://shop.example.com/api/orders/search"
    form  = { status = "paid" }
    items = "response.body.orders"
    key   = "item.id"
  }
}
