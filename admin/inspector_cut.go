package admin

import (
	"fmt"

	"github.com/hookflow/hookflow/internal/runes"
)

// A run's values may be megabytes: a webhook's body of one long string, a step's
// output holding it, the requests that sent it. A page shows each value up to
// pageChars characters and says how many more it has, with a link to the run's JSON in
// the admin API, which has them whole: the page stays small, and so does each read of
// a live page.

// pageChars is how many characters of one value (a body, an output, a header's value,
// an error) a page shows.
const pageChars = 32 << 10

// cutText is a value as a page shows it: its first pageChars characters, how many more
// it has, and the run whose JSON has it whole.
type cutText struct {
	Text string
	More int    // characters not shown
	Run  string // the run's id, for the link to its JSON
}

// cut is s as a page shows it, for run: cut after pageChars characters (runes: a
// UTF-8 sequence is never split), before the page escapes it.
func cut(run, s string) cutText {
	end, n := runes.Cut(s, pageChars)
	return cutText{Text: s[:end], More: n, Run: run}
}

// chars says n characters, for a page: "1 character", "3375011 characters".
func chars(n int) string {
	if n == 1 {
		return "1 character"
	}
	return fmt.Sprintf("%d characters", n)
}
