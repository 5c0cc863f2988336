# Each block holds a mistake its kind finds and another the loader finds: both are
# reported.
workflow "orders" {
  trigger "webhook" {
    path  = "no-slash"
    methd = "POST"
  }

  trigger "webhook" {
    path             = "/orders/sync"
    response         = "sync"
    response_timeout = "5m"
    dedupe           = "{{ evnt.id }}"
  }

  step "http" "ship" {
    url = "ftp://warehouse.example.com/shipments"
    if  = "steps.nope != nil"
  }

  step "http" "invoice" {
    url     = ["https://books.example.com/invoices"]
    timeout = "soon"
  }

  step "respond" "answer" {
    json = { ok = true }
  }
}
