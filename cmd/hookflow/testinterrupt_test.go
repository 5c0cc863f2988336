package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// hookflow test interrupted (SIGINT or SIGTERM, its context cancelled) keeps the
// results of the tests that finished, reports those cut short or never started as not
// run, and the directories never loaded as not tested; its summary says it was
// interrupted, with exit status 1, and the JUnit report marks the tests not run as
// skipped. Here the signal comes once the second test of the second directory is
// queued: a run of 10,000 steps, one after another, that takes seconds.
func TestWorkflowTestsInterrupted(t *testing.T) {
	quick := `workflow "quick" {
  step "set" "x" {
    y = "1"
  }
}
`
	slow := `workflow "slow" {
  step "log" "each" {
    for_each     = "0..9999"
    max_parallel = 1
    message      = "item {{ each.key }}"
  }
}
`
	root := t.TempDir()
	first := writeFiles(t, filepath.Join(root, "first"), map[string]string{"w.hcl": quick,
		"w.test.hcl": "test \"done before\" {\n  workflow = \"quick\"\n}\n"})
	second := writeFiles(t, filepath.Join(root, "second"), map[string]string{"w.hcl": quick + slow,
		"w.test.hcl": "test \"quick\" {\n  workflow = \"quick\"\n}\n\ntest \"slow\" {\n  workflow = \"slow\"\n}\n\n" +
			"test \"never started\" {\n  workflow = \"quick\"\n}\n"})
	third := writeFiles(t, filepath.Join(root, "third"), map[string]string{"w.hcl": quick,
		"w.test.hcl": "test \"never loaded\" {\n  workflow = \"quick\"\n}\n"})
	report := filepath.Join(t.TempDir(), "report.xml")

	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	// One test at a time, in their order: the interrupt finds the first two done and
	// the slow one running.
	o := &workflowTests{timeout: time.Minute, parallel: 1, junit: report, queued: func(t *workflows.Test) {
		if t.Name == "slow" {
			interrupt()
		}
	}}
	var stdout, stderr bytes.Buffer
	err := o.runAll(ctx, []string{first, second, third}, &stdout, &stderr)
	out := stdout.String()
	if code := exitStatus(err, &stderr); code != exitFailed {
		t.Errorf("exit status %d, want %d", code, exitFailed)
	}
	for _, want := range []string{
		"ok    done before (",
		"ok    quick (",
		"SKIP  slow (" + second + "/w.test.hcl:5): not run: interrupted\n",
		"SKIP  never started (" + second + "/w.test.hcl:9): not run: interrupted\n",
		"INTERRUPTED: 2 passed, 0 failed, 2 not run, 1 directory not tested\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, never := range []string{"FAIL", "context canceled", "never loaded"} {
		if strings.Contains(out+stderr.String(), never) {
			t.Errorf("output says %q:\n%s%s", never, out, stderr.String())
		}
	}

	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 2 {
		t.Fatalf("%d suites, want the 2 directories tested:\n%s", len(doc.Suites), data)
	}
	s := doc.Suites[1]
	if s.Tests != 3 || s.Failures != 0 || s.Skipped != 2 {
		t.Errorf("suite %s: %d tests, %d failures, %d skipped; want 3, 0, 2", s.Name, s.Tests, s.Failures, s.Skipped)
	}
	for _, c := range s.Cases {
		if skipped := c.Skipped != nil; skipped != (c.Name != "quick") || c.Failure != nil {
			t.Errorf("%s: skipped %v, failure %v", c.Name, c.Skipped, c.Failure)
		} else if skipped && c.Skipped.Message != "not run: interrupted (SIGINT or SIGTERM)" {
			t.Errorf("%s: skipped with %q", c.Name, c.Skipped.Message)
		}
	}
}

// SIGINT or SIGTERM as a directory of DIR/... starts (its tests loaded, its embedded
// Redis starting) keeps the results of the directories before it, and reports that
// directory's tests as not run, in the output and as skipped in the JUnit report,
// as it does those of a directory interrupted later; the directories after it are
// not tested.
func TestWorkflowTestsInterruptedAsADirectoryStarts(t *testing.T) {
	quick := "workflow \"quick\" {\n  step \"set\" \"x\" {\n    y = \"1\"\n  }\n}\n"
	root := writeFiles(t, t.TempDir(), map[string]string{
		"a/w.hcl":      quick,
		"a/w.test.hcl": "test \"done before\" {\n  workflow = \"quick\"\n}\n",
		"b/w.hcl":      quick,
		"b/w.test.hcl": "test \"one\" {\n  workflow = \"quick\"\n}\n\ntest \"two\" {\n  workflow = \"quick\"\n}\n",
		"c/w.hcl":      quick,
		"c/w.test.hcl": "test \"never loaded\" {\n  workflow = \"quick\"\n}\n",
	})
	for _, tc := range []struct {
		name   string
		at     string // the directory whose start is interrupted
		want   []string
		suites map[string][2]int // tests and skipped, by directory
	}{
		{"the second directory", "b", []string{
			"ok    done before (",
			"SKIP  one (" + root + "/b/w.test.hcl:1): not run: interrupted\n",
			"SKIP  two (" + root + "/b/w.test.hcl:5): not run: interrupted\n",
			"INTERRUPTED: 1 passed, 0 failed, 2 not run, 1 directory not tested\n",
		}, map[string][2]int{"a": {1, 0}, "b": {2, 2}}},
		{"the first directory", "a", []string{
			"SKIP  done before (" + root + "/a/w.test.hcl:1): not run: interrupted\n",
			"INTERRUPTED: 0 passed, 0 failed, 1 not run, 2 directories not tested\n",
		}, map[string][2]int{"a": {1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.xml")
			ctx, interrupt := context.WithCancel(context.Background())
			defer interrupt()
			o := &workflowTests{timeout: time.Minute, parallel: 1, junit: report, starting: func(dir string) {
				if dir == filepath.Join(root, tc.at) {
					interrupt()
				}
			}}
			var stdout, stderr bytes.Buffer
			err := o.runAll(ctx, []string{root + "/..."}, &stdout, &stderr)
			out := stdout.String()
			if code := exitStatus(err, &stderr); code != exitFailed {
				t.Errorf("exit status %d, want %d", code, exitFailed)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out+stderr.String(), "never loaded") || strings.Contains(out+stderr.String(), "context canceled") {
				t.Errorf("output:\n%s%s", out, stderr.String())
			}
			data, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Suites []junitSuite `xml:"testsuite"`
			}
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string][2]int{}
			for _, s := range doc.Suites {
				got[filepath.Base(s.Name)] = [2]int{s.Tests, s.Skipped}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.suites) {
				t.Errorf("suites (tests, skipped) %v, want %v:\n%s", got, tc.suites, data)
			}
		})
	}
}
