# A Slack slash command, say /tickets [words], that answers at once with the open
# helpdesk tickets of whoever typed it, those matching the words if any.
#
# In your Slack app (api.slack.com/apps), add a slash command with the request URL
# https://YOUR-HOST/hooks/slack/commands; the app's signing secret is
# SLACK_SIGNING_SECRET. Slack posts the command as a form and shows the answer to the
# user. See README.md to try it with the sample command.

vars {
  helpdesk = env("HELPDESK_URL", "https://helpdesk.example.com/api/v2")
}

workflow "slack_tickets" {
  description = "Slack slash command -> helpdesk lookup -> answered in Slack"

  # Slack waits 3 seconds for the answer; past response_timeout, Slack would be
  # answered 202 with the run's id, so it is kept below that.
  trigger "webhook" {
    path = "/slack/commands"
    verify "slack" {
      secrets = [secret("SLACK_SIGNING_SECRET")]
    }
    response         = "sync"
    response_timeout = "2500ms"
  }

  # The helpdesk answers {"tickets": [{"id", "subject", "url", ...}]}. Its error is
  # answered below rather than failing the run, so that the user hears of it.
  step "http" "tickets" {
    url = "${vars.helpdesk}/tickets"
    query = {
      slack_user = "{{ event.body.user_id }}"
      status     = "open"
      search     = "{{ event.body.text }}"
    }
    headers  = { Authorization = "Bearer ${secret("HELPDESK_TOKEN")}" }
    timeout  = "2s"
    on_error = "continue"
  }

  # "ephemeral": only the user who typed the command sees the answer. Slack reads <, >
  # and & as markup, so ticket subjects have them escaped (Slack escapes the command's
  # own text).
  # The list the helpdesk answered, nil when it failed or answered something else (a
  # page of text, an object without tickets).
  step "set" "found" {
    tickets = "{{ steps.tickets.error == nil && type(steps.tickets.body) == 'map' && type(steps.tickets.body.tickets) == 'array' ? steps.tickets.body.tickets : nil }}"
  }

  step "respond" "answer" {
    if = "len(steps.found.tickets ?? []) > 0"
    json = {
      response_type = "ephemeral"
      text          = <<-EOT
        Your open tickets{{ event.body.text == "" ? "" : " matching " + event.body.text }}:
        {{ join(map(steps.found.tickets, "• <" + #.url + "|#" + string(#.id) + "> " + replace(replace(replace(#.subject, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")), "\n") }}
      EOT
    }
  }

  step "respond" "none" {
    if = "steps.found.tickets != nil && len(steps.found.tickets) == 0"
    json = {
      response_type = "ephemeral"
      text          = "You have no open tickets{{ event.body.text == '' ? '' : ' matching ' + event.body.text }}."
    }
  }

  # The helpdesk failed, or answered without a list of tickets.
  step "respond" "unavailable" {
    if = "steps.found.tickets == nil"
    json = {
      response_type = "ephemeral"
      text          = "The helpdesk did not answer; try again in a minute."
    }
  }
}
