workflow "issues" {
  filter = "github.event.action == 'opened'"
  step "log" "title" {
    message = "Issue {{ github.event.issue.title }} opened"
  }
  step "log" "token" {
    if      = "secrets.DEPLOY_TOKEN != ''"
    message = "{{ secrets.DEPLOY_TOKEN }}"
  }
  step "log" "stage" {
    if      = "env.STAGE == 'prod'"
    message = "{{ env.STAGE }}"
  }
  step "log" "sha" {
    message = "{{ github.sha }}"
  }
}
