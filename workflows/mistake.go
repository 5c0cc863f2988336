package workflows

import "github.com/hashicorp/hcl/v2"

// Some load errors catch a likely mistake in what would run, not what cannot run: a
// vars.NAME that no vars block defines, run.idd, each.vaule, event read where there is
// no event (all nil when they run), a retry block on a step that never retries, a
// paginate expression or a delay that fails its step when the run reaches it. A file
// with one does not start serving. But a version stored in Redis (Options.Stored) is
// the file of runs in flight, which a build that did not check it accepted: there
// those checks warn, and the runs go on as that build ran them. So does every error of
// a trigger: runs do not use their version's triggers.

// mistake returns d, an error that catches a likely mistake, as a warning when
// stored.
func mistake(d *hcl.Diagnostic, stored bool) *hcl.Diagnostic {
	if stored && d != nil && d.Severity == hcl.DiagError {
		d.Severity = hcl.DiagWarning
	}
	return d
}

// triggerMistakes returns diags, a trigger's, with the errors as warnings in a stored
// version: a run does not use its version's triggers (those of the set in use start
// runs), so one that does not load here is left out of the version.
func (l *loader) triggerMistakes(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		mistake(d, l.stored)
	}
	return diags
}

// Mistakes returns diags, what a kind's check of a likely mistake reported (not of
// what cannot run: the step fails when a run reaches it, or does what was written),
// with the errors as warnings when the block is of a stored version (Options.Stored).
func (b *Block) Mistakes(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		mistake(d, b.stored)
	}
	return diags
}
