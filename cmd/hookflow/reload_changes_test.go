package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testutil"
)

// logged reports whether a line of log says msg with every one of attrs.
func logged(log, msg string, attrs ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "msg="+msg+" ") && !strings.Contains(line, `msg="`+msg+`" `) {
			continue
		}
		found := true
		for _, a := range attrs {
			found = found && strings.Contains(line, " "+a)
		}
		if found {
			return true
		}
	}
	return false
}

// A reload logs what it changed: the workflows added, removed and changed, by name,
// and each webhook URL added or removed, as serve's start logs them. A file cut
// down to nothing is a warning at the file, and its workflow is logged as removed.
func TestReloadLogsWhatChanged(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	writeFile(t, filepath.Join(dir, "b.hcl"), hookSrc("b"))
	writeFile(t, filepath.Join(dir, "c.hcl"), hookSrc("c"))
	r := serveReloading(t, dir, false)
	hooks := "http://" + dialable(r.s.publicAddr) + "/hooks/"

	must(t, os.Truncate(filepath.Join(dir, "b.hcl"), 0)) // a copy that wrote nothing
	testutil.Eventually(t, 5*time.Second, "the reload is logged", func() bool {
		return logged(r.log(), "workflows reloaded with warnings", "workflows=2", "removed=b", `first="`+filepath.Join(dir, "b.hcl")+`:1:1: No blocks in file"`)
	})
	if !logged(r.log(), "webhook removed", "workflow=b", "method=POST", "url="+hooks+"b") {
		t.Errorf("the webhook of b is not logged as removed:\n%s", r.log())
	}

	writeFile(t, filepath.Join(dir, "c.hcl"), strings.Replace(hookSrc("c"), `"/c"`, `"/c2"`, 1))
	writeFile(t, filepath.Join(dir, "d.hcl"), hookSrc("d"))
	testutil.Eventually(t, 5*time.Second, "the reload of c and d is logged", func() bool {
		return logged(r.log(), "workflows reloaded with warnings", "changed=c") && logged(r.log(), "workflows reloaded with warnings", "added=d")
	})
	for _, line := range []struct{ msg, workflow, path string }{
		{"webhook removed", "c", "c"}, {"webhook", "c", "c2"}, {"webhook", "d", "d"},
	} {
		if !logged(r.log(), line.msg, "workflow="+line.workflow, "method=POST", "url="+hooks+line.path) {
			t.Errorf("no line %s workflow=%s url=%s%s:\n%s", line.msg, line.workflow, hooks, line.path, r.log())
		}
	}
	if logged(r.log(), "webhook removed", "workflow=a") || strings.Count(r.log(), "msg=webhook workflow=a ") != 1 {
		t.Errorf("the webhook of a, unchanged, is logged again:\n%s", r.log())
	}
}
