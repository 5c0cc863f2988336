package admin

import (
	"fmt"
	"unicode/utf8"
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
	end, n := cutAt(s, pageChars)
	return cutText{Text: s[:end], More: n, Run: run}
}

// cutAt is where s is cut to keep its first n characters, and how many characters it
// has past them: len(s) and 0 for a string of n characters or fewer.
func cutAt(s string, n int) (end, more int) {
	if len(s) <= n { // as many characters as bytes at most
		return len(s), 0
	}
	for range n {
		if end == len(s) {
			return end, 0
		}
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
	}
	return end, utf8.RuneCountInString(s[end:])
}

// chars says n characters, for a page: "1 character", "3375011 characters".
func chars(n int) string {
	if n == 1 {
		return "1 character"
	}
	return fmt.Sprintf("%d characters", n)
}
