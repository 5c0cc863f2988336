# $${{ is HCL's escape: the $ is text, and the {{ a template's, which reads github.
# The second one writes its {{ as a template's literal: it sends ${{ github.sha }}.
workflow "ci" {
  step "http" "dispatch" {
    url  = "https://ci.example.com/workflows"
    json = { ref = "$${{ github.sha }}", text = "$${{ '{{' }} github.sha }}" }
  }
}
