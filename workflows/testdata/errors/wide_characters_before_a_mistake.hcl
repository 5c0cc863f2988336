# Characters two columns wide (CJK, emoji) or none (a combining mark) before the
# mistake: the carets are under it all the same.
workflow "w" {
  step "set" "find" {
    values = { id = "1" }
  }
  step "log" "note" {
    message = "héllo 日本語 🎉 👍🏽 {{ steps.fnd.body.id }}"
  }
}
