# GitHub-verified webhooks: each request's X-Hub-Signature-256 is checked over the raw
# body, its X-GitHub-Delivery is deduplicated, and a run is queued in Redis before the
# 202. The run has no steps, so nothing is delivered: this measures acceptance. Sign
# with the same secret:
#
#   hookbench --target http://127.0.0.1:8080/hooks/bench/github --github-secret hookbench-github-secret

workflow "bench_github" {
  description = "Accepts signed GitHub pushes"

  trigger "webhook" {
    path = "/bench/github"
    verify "github" {
      secrets = [env("HOOKBENCH_GITHUB_SECRET", "hookbench-github-secret")]
    }
  }

  filter = "event.headers['x-github-event'] == 'push'"
}
