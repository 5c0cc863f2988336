package workflows

import (
	"strings"
	"testing"
)

// A test's event of a poll's item sets event.poll's page, and its time, in poll = {…}:
// a page is a whole number from 1, a time RFC 3339, and poll goes with trigger =
// "poll". Each mistake is an error at the attribute's value, saying what to write.
func TestLoadTestsEventPoll(t *testing.T) {
	for _, tc := range []struct {
		name, trigger, poll string
		want                string // the error's detail holds it; "": none
	}{
		{"page and time", "poll", `{ page = 2, time = "2026-03-02T09:00:00Z" }`, ""},
		{"page only", "poll", `{ page = 3 }`, ""},
		{"page 0", "poll", `{ page = 0 }`, "page is the page the item came on, a whole number from 1, not 0."},
		{"a fraction", "poll", `{ page = 1.5 }`, "not 1.5."},
		{"a page as text", "poll", `{ page = "2" }`, `not "2".`},
		{"a time that is not RFC 3339", "poll", `{ time = "yesterday" }`, `time is the poll's time, RFC 3339, not "yesterday".`},
		{"a misspelt page", "poll", `{ pag = 2 }`, "event.poll has page and time, not pag: did you mean page?"},
		{"not an object", "poll", `2`, "poll is an object, not a number."},
		{"another trigger", "webhook", `{ page = 2 }`, `the event needs trigger = "poll" beside it.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tests, diags := loadTests(t, `test "t" {
  workflow = "order"
  event {
    trigger = "`+tc.trigger+`"
    poll    = `+tc.poll+`
  }
}
`)
			var got []string
			for _, d := range diags {
				if d.Summary == "Invalid event poll" {
					got = append(got, d.Subject.String()+": "+d.Detail)
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("errors: %v", got)
			case tc.want == "" && (len(tests) != 1 || tests[0].Event.PollPage < 2):
				t.Errorf("tests %+v", tests)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[0], "order.test.hcl:5,15-")):
				t.Errorf("errors %q, want one at 5,15 with %q", got, tc.want)
			}
		})
	}
}
