test "the placeholder" {
  workflow = "deal"
  mock "create" {
    status = 201
  }
  expect "create" {
    headers = { Authorization = "Bearer https://unset.invalid/CRM_TOKEN" }
  }
}

test "redacted" {
  workflow = "deal"
  mock "create" {
    status = 201
  }
  expect "create" {
    headers = { Authorization = "Bearer [redacted]" }
  }
}

test "a real token" {
  workflow = "deal"
  mock "create" {
    status = 201
  }
  expect "create" {
    headers = { Authorization = "Bearer crm-token-123" }
  }
}

test "redacted where no secret is" {
  workflow = "deal"
  mock "create" {
    status = 201
  }
  expect "create" {
    headers = { X-Plain = "[redacted]" }
  }
}

test "a credential written in the file" {
  workflow = "deal"
  mock "create" {
    status = 201
  }
  expect "create" {
    headers = { X-Api-Key = "other-key" }
  }
}
