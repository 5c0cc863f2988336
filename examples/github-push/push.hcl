# GitHub push -> a message in a Slack channel.
#
# Add a webhook to the repository (Settings > Webhooks) with the payload URL
# https://YOUR-HOST/hooks/github, content type application/json, a secret, and the
# push event. See README.md to try it with the sample event.

workflow "github_push" {
  description = "Pushes to a repository's default branch, posted to Slack"

  trigger "webhook" {
    path = "/github"
    verify "github" {
      secrets = [secret("GITHUB_WEBHOOK_SECRET")]
    }
  }

  # GitHub posts every event the webhook subscribes to here ("ping" when the webhook is
  # created): only pushes to the default branch go on, not the deletion of a branch.
  # The others are answered {"status":"filtered"}. Repeated deliveries start nothing:
  # the github preset dedupes on X-GitHub-Delivery.
  filter = "event.headers['x-github-event'] == 'push' && event.body.ref == 'refs/heads/' + event.body.repository.default_branch && !event.body.deleted"

  # One line per commit: its short id linked to GitHub, the first line of its message
  # and its author. Slack reads <, > and & as markup, so the message has them escaped.
  step "set" "summary" {
    lines = "{{ map(event.body.commits, '• <' + #.url + '|' + #.id[:7] + '> ' + replace(replace(replace(split(#.message, '\\n')[0], '&', '&amp;'), '<', '&lt;'), '>', '&gt;') + ' (' + #.author.name + ')') }}"
    count = "{{ len(event.body.commits) }}"
  }

  # A Slack incoming webhook. Its URL holds its credential, so it is read as a secret.
  step "http" "notify" {
    method = "POST"
    url    = secret("SLACK_WEBHOOK_URL")
    json = {
      text = <<-EOT
        *{{ event.body.pusher.name }}* pushed {{ steps.summary.count }} commit{{ steps.summary.count == 1 ? "" : "s" }}{{ event.body.forced ? " (forced)" : "" }} to `{{ event.body.repository.default_branch }}` of <{{ event.body.repository.html_url }}|{{ event.body.repository.full_name }}> (<{{ event.body.compare }}|compare>)
        {{ join(steps.summary.lines, "\n") }}
      EOT
    }
    retry {
      attempts = 5
      backoff  = "exponential"
      initial  = "2s"
      max      = "1m"
    }
  }
}
