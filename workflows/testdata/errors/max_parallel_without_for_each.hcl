workflow "orders" {
  step "http" "reserve" {
    url          = "https://warehouse.example.com/reserve"
    max_parallel = 5
  }
}
