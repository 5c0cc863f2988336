// Package runes cuts text by characters, for what hookflow shows of a long value.
package runes

import "unicode/utf8"

// Cut is where s is cut to keep its first n characters (runes: a UTF-8 sequence is
// never split), and how many characters it has past them: len(s) and 0 for a string
// of n characters or fewer.
func Cut(s string, n int) (end, more int) {
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
