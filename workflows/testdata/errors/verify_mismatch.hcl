workflow "pushes" {
  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = ["s3cret-for-github"]
    }
  }
}

workflow "issues" {
  trigger "webhook" {
    path = "/github"
  }
}
