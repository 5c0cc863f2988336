workflow "pushes" {
  trigger "webhook" {
    path = "/gitlab"
    verify "gitlab" {
      secrets = ["s3cret-for-github"]
    }
  }
}
