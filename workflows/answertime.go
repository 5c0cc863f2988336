package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// AnswerWaiter is a trigger's configuration whose caller waits for the run's answer
// for at most some time: a sync webhook. ok is false when the caller does not wait.
type AnswerWaiter interface {
	AnswerTimeout() (timeout time.Duration, ok bool)
}

// answerTimeWarnings warns of a respond step that a sync trigger's caller may not
// wait for: the steps before it may take, at worst, its response timeout or longer,
// by what the file writes. The worst case counts what can be known before the run:
// each http step's attempts that time out and the longest waits between them, and a
// wait step's timeout; a parallel block takes as long as its longest step. An http
// step with neither a timeout nor a retry written (in it or its api) counts for
// nothing: its default timeout, longer than the default response_timeout, would warn
// of nearly every sync webhook. Delays, child runs and Retry-After waits are not
// counted, so a workflow may be slower than this still.
func answerTimeWarnings(wf *Workflow) hcl.Diagnostics {
	var respond *Step
	var worst time.Duration
	var slow []string // the steps that take time, with what they may take
nodes:
	for _, n := range wf.Nodes {
		var longest time.Duration
		var what string
		for _, s := range n.Steps {
			if s.Answers() {
				respond = s
				break nodes
			}
			if d, why := worstCase(s); d > longest {
				longest, what = d, fmt.Sprintf("%s %s (%s)", s.Name, FormatDuration(d), why)
			}
		}
		if longest > 0 {
			worst += longest
			slow = append(slow, what)
		}
	}
	if respond == nil || worst == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	for _, t := range wf.Triggers {
		w, ok := t.Config.(AnswerWaiter)
		if !ok {
			continue
		}
		timeout, sync := w.AnswerTimeout()
		if !sync || worst < timeout {
			continue
		}
		at := fmt.Sprintf("%s:%d", t.DefRange.Filename, t.DefRange.Start.Line)
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
			Summary: "The answer may come after response_timeout",
			Detail: fmt.Sprintf("The steps before respond step %q may take %s at worst: %s. That is not within the response_timeout of %s of the sync webhook at %s, whose caller is then answered 202 {\"run_id\", \"status_url\"} instead. Give them shorter timeouts or fewer attempts, or answer first and do the slow work in later steps.",
				respond.Name, FormatDuration(worst), strings.Join(slow, ", "), FormatDuration(timeout), at),
			Subject: respond.DefRange.Ptr()})
	}
	return diags
}

// worstCase is the longest step s may take, as far as the workflow writes it, and
// how: for an http step with a timeout or a retry written, every attempt timing out
// and the longest wait between them; for a wait step, its timeout. 0 for the others.
func worstCase(s *Step) (time.Duration, string) {
	switch s.Kind {
	case "wait":
		return s.Timeout, "its timeout"
	case "http":
	default:
		return 0, ""
	}
	timeout := "a timeout of " + FormatDuration(s.Timeout)
	if !s.timeoutWritten {
		timeout = "the default timeout of " + FormatDuration(s.Timeout)
	}
	if s.Retry == nil || s.Retry.Attempts <= 1 {
		if !s.timeoutWritten && s.Retry == nil {
			return 0, ""
		}
		return s.Timeout, timeout
	}
	d := time.Duration(s.Retry.Attempts) * s.Timeout
	wait := s.Retry.Initial
	for n := 1; n < s.Retry.Attempts; n++ {
		d += min(wait, s.Retry.Max)
		if s.Retry.Exponential && wait < s.Retry.Max {
			wait *= 2
		}
	}
	return d, fmt.Sprintf("%d attempts with %s, and the waits between them", s.Retry.Attempts, timeout)
}
