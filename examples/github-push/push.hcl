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

  # The pusher's name, the branch's, and the first line of each commit's message and
  # its author (in the commits' order) go into a Slack message, where <, > and & are
  # markup: a name of "<!channel>" would notify the whole channel, and
  # "<https://evil.example|click>" would be a link of its own. They are escaped here, as
  # Slack asks.
  step "set" "shown" {
    pusher   = "{{ replace(replace(replace(event.body.pusher.name, '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    branch   = "{{ replace(replace(replace(event.body.repository.default_branch, '&', '&amp;'), '<', '&lt;'), '>', '&gt;') }}"
    messages = "{{ map(event.body.commits, replace(replace(replace(split(#.message, '\\n')[0], '&', '&amp;'), '<', '&lt;'), '>', '&gt;')) }}"
    authors  = "{{ map(event.body.commits, replace(replace(replace(#.author.name, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')) }}"
  }

  # One line per commit: its short id linked to GitHub, the first line of its message
  # and its author.
  step "set" "summary" {
    lines = "{{ map(event.body.commits, '• <' + #.url + '|' + #.id[:7] + '> ' + steps.shown.messages[#index] + ' (' + steps.shown.authors[#index] + ')') }}"
    count = "{{ len(event.body.commits) }}"
  }

  # A Slack incoming webhook. Its URL holds its credential, so it is read as a secret.
  step "http" "notify" {
    method = "POST"
    url    = secret("SLACK_WEBHOOK_URL")
    json = {
      text = <<-EOT
        *{{ steps.shown.pusher }}* pushed {{ steps.summary.count }} commit{{ steps.summary.count == 1 ? "" : "s" }}{{ event.body.forced ? " (forced)" : "" }} to `{{ steps.shown.branch }}` of <{{ event.body.repository.html_url }}|{{ event.body.repository.full_name }}> (<{{ event.body.compare }}|compare>)
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
