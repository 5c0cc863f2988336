workflow "pushes" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["s3cret"]
    }
  }
}

workflow "issues" {
  trigger "webhook" {
    path = "/github"
  }
}
