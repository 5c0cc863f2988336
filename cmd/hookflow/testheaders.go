package main

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// placeholderRE matches what a secret() reads in a test: workflows' placeholder
// https://unset.invalid/NAME.
var placeholderRE = regexp.MustCompile(`https://unset\.invalid/([A-Za-z_][A-Za-z0-9_]*)`)

// headerLines compares the headers an expect names with those sent, and says how each
// differs. A value sent is shown as the run's history and the test's output show it:
// a credential header's value hidden but for its scheme ("Bearer [redacted]"), the
// secrets of the others hidden by secrets. A value expected with [redacted] in it
// matches a value sent that is shown so. When what is hidden is only what a test's
// secret() reads (a placeholder, never a real secret: a test reads none), the line
// says what to write.
func headerLines(want map[string]string, sent http.Header, secrets *workflows.Redactor) []string {
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	var lines []string
	for _, name := range names {
		w := want[name]
		values := sent.Values(name)
		if len(values) == 0 {
			lines = append(lines, fmt.Sprintf("    %s: expected %q, not sent", name, w))
			continue
		}
		got := strings.Join(values, ", ")
		shown := workflows.ShownHeader(name, got, secrets.String)
		if got == w || strings.Contains(w, workflows.Redacted) && shown == w {
			continue
		}
		line := fmt.Sprintf("    %s: expected %q, sent %q", name, w, shown)
		placeholders := placeholderRE.FindAllStringSubmatch(got, -1)
		switch {
		case shown != got && len(placeholders) > 0 && placeholderRE.ReplaceAllString(got, workflows.Redacted) == shown:
			var reads []string
			for _, m := range placeholders {
				reads = append(reads, fmt.Sprintf("secret(%q) reads %s", m[1], m[0]))
			}
			line += fmt.Sprintf("\n      (in a test, %s: write %q, or %q)", strings.Join(reads, ", "), got, shown)
		case strings.Contains(w, workflows.Redacted) && shown == got:
			line += "\n      ([redacted] matches what hookflow hides, a secret or a credential header's value; this value is shown as it is)"
		}
		lines = append(lines, line)
	}
	return lines
}
