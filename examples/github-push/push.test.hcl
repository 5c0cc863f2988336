# Tests of the GitHub push workflow: hookflow test examples/github-push

test "a push to the default branch is posted to Slack" {
  workflow = "github_push"
  event {
    body    = file("event.json")
    headers = { X-GitHub-Event = "push" }
  }
  mock "notify" {
    status = 200
    body   = "ok"
  }
  expect "summary" {
    output = {
      count = 1
      lines = ["• <https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> Update README.md (The Octocat)"]
    }
  }
  expect "notify" {
    method = "POST"
    count  = 1
    json = {
      text = "*octocat* pushed 1 commit to `main` of <https://github.com/octocat/Hello-World|octocat/Hello-World> (<https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f|compare>)\n• <https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> Update README.md (The Octocat)\n"
    }
  }
}

test "a ping starts no run" {
  workflow = "github_push"
  event {
    body    = { zen = "Keep it logically awesome.", hook_id = 1 }
    headers = { X-GitHub-Event = "ping" }
  }
  expect_run = "filtered"
}

test "a Slack that refuses the message fails the run" {
  workflow = "github_push"
  event {
    body    = file("event.json")
    headers = { X-GitHub-Event = "push" }
  }
  mock "notify" {
    status = 404
    body   = "no_service"
  }
  expect "notify" {
    count = 1 # a 404 is not retried
  }
  expect_run = "failed"
}

# Slack reads <, > and & as markup: names, the branch and messages are shown as
# written, so that a name notifies no one and makes no link of its own.
test "the pusher, the branch and the commits are escaped for Slack" {
  workflow = "github_push"
  event {
    body = {
      ref        = "refs/heads/fix<&>"
      deleted    = false
      forced     = false
      compare    = "https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f"
      repository = { full_name = "octocat/Hello-World", html_url = "https://github.com/octocat/Hello-World", default_branch = "fix<&>" }
      pusher     = { name = "<!channel> & co" }
      commits = [{
        id      = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
        url     = "https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
        message = "Fix a < b && b > c\n\nThe details."
        author  = { name = "<https://evil.example|click> & <!here>" }
      }]
    }
    headers = { X-GitHub-Event = "push" }
  }
  mock "notify" {
    body = "ok"
  }
  expect "shown" {
    output = {
      pusher   = "&lt;!channel&gt; &amp; co"
      branch   = "fix&lt;&amp;&gt;"
      messages = ["Fix a &lt; b &amp;&amp; b &gt; c"]
      authors  = ["&lt;https://evil.example|click&gt; &amp; &lt;!here&gt;"]
    }
  }
  expect "notify" {
    json = {
      text = "*&lt;!channel&gt; &amp; co* pushed 1 commit to `fix&lt;&amp;&gt;` of <https://github.com/octocat/Hello-World|octocat/Hello-World> (<https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f|compare>)\n• <https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> Fix a &lt; b &amp;&amp; b &gt; c (&lt;https://evil.example|click&gt; &amp; &lt;!here&gt;)\n"
    }
  }
}
