api "leaky" {
  base_url = "https://api.example.com"
  auth "bearer" {
    token = <<-EOT
      HEREDOC_TOKEN_333${1 + "x"}
    EOT
  }
}
