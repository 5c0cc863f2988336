# A url is one string: a list, an object or a number says so, whether or not it holds
# {{ }}, rather than that the URL does not start with http://.
api "crm" {
  base_url = "https://crm.example.com/api"
}

workflow "orders" {
  step "http" "notify" {
    url = ["http://x.example.com"]
  }

  step "http" "fetch" {
    url = ["https://shop.example.com/orders/{{ event.body.id }}"]
  }

  step "http" "contact" {
    api = "crm"
    url = { path = "/contacts" }
  }
}
