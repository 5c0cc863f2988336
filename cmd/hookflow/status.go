package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/engine"
)

// statusAnswer is GET /api/v1/status.
type statusAnswer struct {
	// Version is the build of the process that answered, as hookflow version prints it;
	// "" from a hookflow that did not tell.
	Version string              `json:"version"`
	Config  admin.ConfigStatus  `json:"config"`
	Redis   *engine.RedisStatus `json:"redis"`
	Failing []failingTrigger    `json:"failing_triggers"`
}

// failingTrigger is a trigger whose last attempt failed: a poll whose API fails.
type failingTrigger struct {
	Workflow    string     `json:"workflow"`
	Text        string     `json:"text"`
	Failures    int        `json:"failures"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
	// NotBefore is when a poll asked to wait by its API (a 429's or 503's
	// Retry-After) asks again, in any process; nil when it was not.
	NotBefore *time.Time `json:"not_before"`
}

func statusCommand() *cobra.Command {
	var a adminCommand
	cmd := &cobra.Command{
		Use:     "status",
		GroupID: "operate",
		Short:   "Show the workflows a running hookflow serves, and how its last reload went",
		Long: `status shows, through the admin API of a running hookflow serve (--admin, default
` + defaultAdmin + `), the build it runs (as hookflow version prints it), the workflows
it has in use with their versions and when they were loaded, and how the last reload
of the files went. When it failed (a file with an error, a secret() or env() of a
variable hookflow was not started with), the workflows in use are the ones loaded
before, and status prints the errors as validate does, with file:line:col. It exits 1
then, and while Redis is unreachable (on a Redis Cluster: a primary that does not
answer, or cluster_state:fail, or a shard's slot without a primary or migrating) or
refuses the starts of runs (out of memory, an ACL), 0 otherwise. A warning of Redis's
configuration (a maxmemory-policy that evicts keys) is shown, and exits 0.`,
		Example: `  hookflow status
  hookflow status --json | jq -r .config.error`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(a.addr)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.call(cmd.Context(), "GET", "/status", nil, &raw); err != nil {
				return err
			}
			var out statusAnswer
			if err := json.Unmarshal(raw, &out); err != nil {
				return fmt.Errorf("the admin API at %s answered something that is not hookflow's JSON: %w", c.display, err)
			}
			if a.asJSON {
				err = printJSON(cmd.OutOrStdout(), raw)
			} else {
				if out.Version != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "version: %s\n", out.Version)
				}
				err = printStatus(cmd.OutOrStdout(), &out.Config)
				if err == nil && out.Redis != nil {
					err = printRedis(cmd.OutOrStdout(), out.Redis)
				}
				for _, f := range out.Failing {
					if err == nil {
						at := "-"
						if f.LastErrorAt != nil {
							at = localTime(*f.LastErrorAt)
						}
						_, err = fmt.Fprintf(cmd.OutOrStdout(), "failing: %s, %s: %d in a row, last at %s: %s%s\n",
							f.Workflow, f.Text, f.Failures, at, f.LastError, waitsUntil(f.NotBefore))
					}
				}
			}
			if err == nil && (!out.Config.OK || out.Redis != nil && out.Redis.Error != "") {
				return exitError(exitFailed)
			}
			return err
		},
	}
	a.flags(cmd)
	return cmd
}

// printStatus prints the workflows in use, then how the last reload went.
func printStatus(w io.Writer, st *admin.ConfigStatus) error {
	fmt.Fprintf(w, "%d workflow%s in use", st.Workflows, plural(st.Workflows))
	if st.Dir != "" {
		fmt.Fprintf(w, " from %s", st.Dir)
	}
	fmt.Fprintf(w, ", loaded %s\n", localTime(st.LastSuccessAt))
	if len(st.Versions) > 0 {
		tw := newTable(w)
		fmt.Fprintln(tw, "  NAME\tVERSION")
		names := make([]string, 0, len(st.Versions))
		for name := range st.Versions {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(tw, "  %s\t%s\n", name, st.Versions[name])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.OK {
		fmt.Fprintf(w, "files last read: %s, no errors\n", localTime(st.LoadedAt)) // every reload, and every 30 s
		return nil
	}
	fmt.Fprintf(w, "files last read: %s, failed: the files have errors%s, and the workflows above, loaded before, keep serving\n\n",
		localTime(st.LoadedAt), failingSince(st))
	_, err := io.WriteString(w, strings.TrimRight(st.Error, "\n")+"\n")
	return err
}

// printRedis prints how the hookflow reaches Redis.
func printRedis(w io.Writer, r *engine.RedisStatus) error {
	mode := r.Mode
	if r.Mode == engine.RedisCluster {
		mode = fmt.Sprintf("cluster of %d primar%s", r.Primaries, map[bool]string{true: "y", false: "ies"}[r.Primaries == 1])
	}
	// Starts that wait for no replica are the default, and need no words.
	waits := ""
	if r.WaitReplicas > 0 {
		waits = fmt.Sprintf(", starts wait for %d replica%s", r.WaitReplicas, plural(r.WaitReplicas))
		if r.Replicas != nil {
			waits += fmt.Sprintf(" (%d online)", *r.Replicas)
		}
	}
	_, err := fmt.Fprintf(w, "redis: %s, %d shard%s%s\n", mode, r.Shards, plural(r.Shards), waits)
	switch {
	case err != nil || r.Error == "":
	case r.State == "few_replicas", r.State == "info_denied", r.State == "refused": // the error says "too few replicas", "INFO denied", "Redis refuses starts"
		_, err = fmt.Fprintf(w, "redis: %s\n", r.Error)
	default:
		_, err = fmt.Fprintf(w, "redis: unreachable: %s\n", r.Error)
	}
	if err == nil && r.Warning != "" {
		_, err = fmt.Fprintf(w, "redis: warning: %s\n", r.Warning)
	}
	return err
}

// brokenFiles says on w, when the last reload failed, that the workflows shown are
// the ones loaded before. A hookflow that does not answer its status says nothing.
func brokenFiles(ctx context.Context, c *adminClient, w io.Writer) {
	var out statusAnswer
	if c.call(ctx, "GET", "/status", nil, &out) != nil || out.Config.OK {
		return
	}
	printBroken(w, &out.Config)
}

// printBroken says that the files in st have errors, since when, and that the
// workflows shown are the ones loaded before.
func printBroken(w io.Writer, st *admin.ConfigStatus) {
	fmt.Fprintf(w, "the workflow files have errors%s: these are the ones loaded %s, still serving; hookflow status shows the errors\n",
		failingSince(st), localTime(st.LastSuccessAt))
}

// failingSince says since when the files have failed to load, for a hookflow that
// tells: " since 2026-12-04 19:40:02"; "" for one that does not.
func failingSince(st *admin.ConfigStatus) string {
	if st.FailingSince == nil {
		return ""
	}
	return " since " + localTime(*st.FailingSince)
}

// waitsUntil says when a poll its API asked to wait asks again: "; its API asked it to
// wait (Retry-After): no poll before 2026-12-05 15:08:20"; "" for none.
func waitsUntil(t *time.Time) string {
	if t == nil {
		return ""
	}
	return "; its API asked it to wait (Retry-After): no poll before " + localTime(*t)
}

func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
