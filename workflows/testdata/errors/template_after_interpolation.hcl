vars {
  s   = "ab"
  key = "a-much-longer-plain-value"
}

workflow "w" {
  step "log" "b" {
    message = "${vars.s} steps.nope {{ steps.nope.x }}"
  }
  step "log" "c" {
    message = "${vars.key} {{ event.body.a + }}"
  }
  step "log" "d" {
    message = <<-EOT
      ${vars.key}: \n "a" {{ a }}
        and {{ evnt.body.a }}
      EOT
  }
}
