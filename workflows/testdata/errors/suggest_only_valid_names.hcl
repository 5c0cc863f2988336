# A name that is itself an error is never offered as what was meant.
workflow "child-2" {
  step "set" "done" {
    values = { ok = true }
  }
}

workflow "chïld" {
  step "set" "done" {
    values = { ok = true }
  }
}

workflow "parent" {
  step "http" "find-customer" {
    url = "https://crm.example.com/customers"
  }
  step "workflow" "sub" {
    workflow = "child"
  }
  step "set" "after" {
    values = { id = "{{ steps.find_customer.body.id }}" }
  }
}
