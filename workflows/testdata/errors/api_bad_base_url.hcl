api "crm" {
  base_url = "crm.example.com/api?v=1"
}

api "shop" {
  base_url = "https://shop.example.com/api?v=1"
}
