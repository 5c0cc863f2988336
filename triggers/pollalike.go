package triggers

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// checkPolls reports two polls of one workflow with the same key (Poll.Key): they would
// share their ticks (one of them polls at each), their cursor and the keys of the items
// they saw. The key leaves out a poll's query and headers, so that the polls deployed
// keep their state: two polls that differ only there must differ elsewhere.
func checkPolls(ts []*workflows.Trigger) hcl.Diagnostics {
	first := map[string]*workflows.Trigger{} // by workflow and key
	var diags hcl.Diagnostics
	for _, t := range ts {
		p := t.Config.(*Poll)
		at := t.Workflow + "\x00" + p.Key()
		f, ok := first[at]
		if !ok {
			first[at] = t
			continue
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Two polls of one workflow ask alike",
			Detail: fmt.Sprintf("Workflow %q already has a poll (at %s) with the same method, url up to its first {{ }}, api, "+
				"json, items and key as this one. What names a poll leaves out its query and headers: the two would share "+
				"their ticks, cursor and the keys of the items seen, and only one would poll at each tick. Write the query "+
				"of one of them in its url (url = \"https://api.example.com/issues?state=open\"), or give them different "+
				"items or key expressions; or poll once and tell the items apart in the workflow.",
				t.Workflow, rangeAt(f.DefRange)),
			Subject: t.DefRange.Ptr()})
	}
	return diags
}
