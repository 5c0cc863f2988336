package runes

import "testing"

// Cut counts characters, not bytes, and never splits one.
func TestCut(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		text string
		more int
	}{
		{"", 3, "", 0},
		{"abc", 3, "abc", 0},
		{"abcd", 3, "abc", 1},
		{"ééé", 3, "ééé", 0}, // 6 bytes, 3 characters
		{"éééé", 3, "ééé", 1},
		{"a𝄞b𝄞c", 2, "a𝄞", 3},
		{"ab\xffcd", 3, "ab\xff", 2}, // a byte that is no UTF-8 counts as one
	} {
		end, more := Cut(c.in, c.n)
		if c.in[:end] != c.text || more != c.more {
			t.Errorf("Cut(%q, %d) keeps %q, %d more; want %q, %d more", c.in, c.n, c.in[:end], more, c.text, c.more)
		}
	}
}
