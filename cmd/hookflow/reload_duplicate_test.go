package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A workflow added during serve under the name of one in use is the duplicate: the
// error is at the file just added, and names the one in use as the other definition,
// whatever the order of the files' names.
func TestReloadDuplicateIsTheNewWorkflow(t *testing.T) {
	for _, added := range []string{"extra.hcl", "zz.hcl"} {
		t.Run(added, func(t *testing.T) {
			dir := t.TempDir()
			inUse := filepath.Join(dir, "hr.hcl")
			writeFile(t, inUse, hookSrc("hr"))
			r, _, stderr := reloaderOn(t, dir)
			extra := filepath.Join(dir, added)
			writeFile(t, extra, "# a copy\n"+hookSrc("hr"))

			st := r.Changed("files changed")
			if st.OK {
				t.Fatalf("the duplicate was accepted: %+v", st)
			}
			out := strings.Join(strings.Fields(stderr.String()), " ") // the detail unwrapped
			want := "on " + extra + ":2:10, in workflow \"hr\":"
			if !strings.Contains(out, want) || !strings.Contains(out, "already defined at "+inUse+":1:1.") {
				t.Errorf("the error is not at the workflow added (%s), naming the one in use:\n%s", want, stderr.String())
			}
		})
	}
}
