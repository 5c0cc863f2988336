package main

import (
	"fmt"
	"strings"
)

// diffContext is how many unchanged lines a hunk shows around a change, as diff -u.
const diffContext = 3

// maxDiffEdits bounds the work of a diff: past this many changed lines, the changed
// part is shown removed and added whole rather than searched for a shorter script.
const maxDiffEdits = 2000

// edit is one line of an edit script: ' ' kept, '-' removed, '+' added.
type edit struct {
	op   byte
	line string // with its line break, if it has one
}

// unifiedDiff returns the changes from old to new in the unified format of diff -u,
// headed --- oldName and +++ newName; "" when they are equal.
func unifiedDiff(oldName, newName string, old, new []byte) string {
	edits := editScript(splitLines(string(old)), splitLines(string(new)))
	var b strings.Builder
	for i := 0; i < len(edits); {
		if edits[i].op == ' ' {
			i++
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "--- %s\n+++ %s\n", diffName(oldName), diffName(newName))
		}
		start, end := max(i-diffContext, 0), hunkEnd(edits, i)
		writeHunk(&b, edits, start, end)
		i = end
	}
	return b.String()
}

// diffName is a file's name as a diff's header writes it: with a tab after it when it
// holds a space, as diff -u ends it before its time, where patch would take the name
// to end at the space.
func diffName(name string) string {
	if strings.ContainsAny(name, " \t") {
		return name + "\t"
	}
	return name
}

// hunkEnd returns where the hunk holding the change at i ends: after the last change
// followed by fewer than 2×diffContext unchanged lines, and diffContext lines of it.
func hunkEnd(edits []edit, i int) int {
	last := i
	for j := i; j < len(edits); j++ {
		if edits[j].op != ' ' {
			last = j
		} else if j-last > 2*diffContext {
			break
		}
	}
	return min(last+1+diffContext, len(edits))
}

func writeHunk(b *strings.Builder, edits []edit, start, end int) {
	oldLine, newLine := 1, 1 // the line numbers at start
	for _, e := range edits[:start] {
		if e.op != '+' {
			oldLine++
		}
		if e.op != '-' {
			newLine++
		}
	}
	oldLen, newLen := 0, 0
	for _, e := range edits[start:end] {
		if e.op != '+' {
			oldLen++
		}
		if e.op != '-' {
			newLen++
		}
	}
	// An empty side is named by the line before it, as diff -u does.
	if oldLen == 0 {
		oldLine--
	}
	if newLen == 0 {
		newLine--
	}
	fmt.Fprintf(b, "@@ -%s +%s @@\n", hunkRange(oldLine, oldLen), hunkRange(newLine, newLen))
	for _, e := range edits[start:end] {
		b.WriteByte(e.op)
		b.WriteString(e.line)
		if !strings.HasSuffix(e.line, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(line, n int) string {
	if n == 1 {
		return fmt.Sprint(line)
	}
	return fmt.Sprintf("%d,%d", line, n)
}

// splitLines splits s after each line break.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// editScript returns a shortest edit script from a to b: the common start and end are
// kept, and Myers' algorithm finds the fewest changes between them.
func editScript(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]edit, 0, len(a)+len(b)-pre-suf)
	for _, l := range a[:pre] {
		out = append(out, edit{' ', l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{' ', l})
	}
	return out
}

// myers is Myers' O(ND) diff ("An O(ND) Difference Algorithm and Its Variations",
// 1986): v[k] is the furthest x reached on diagonal k = x-y with d changes, and the
// trace of v after each d is walked back from the end to give the script.
func myers(a, b []string) []edit {
	n, m := len(a), len(b)
	if n+m == 0 {
		return nil
	}
	off := n + m
	v := make([]int, 2*(n+m)+1)
	var trace [][]int // trace[d][k+d]: v[k] after d changes
	for d := 0; d <= n+m; d++ {
		if d > maxDiffEdits {
			return replaceAll(a, b)
		}
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: a line of b added
			} else {
				x = v[off+k-1] + 1 // right: a line of a removed
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
		}
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
		if k := n - m; k >= -d && k <= d && (k+d)%2 == 0 && v[off+k] >= n {
			return backtrack(trace, a, b)
		}
	}
	return replaceAll(a, b) // not reached: n+m changes always suffice
}

func backtrack(trace [][]int, a, b []string) []edit {
	x, y := len(a), len(b)
	var rev []edit
	for d := len(trace) - 1; d > 0; d-- {
		prev := func(k int) int { return trace[d-1][k+d-1] }
		k := x - y
		prevK := k - 1
		if k == -d || (k != d && prev(k-1) < prev(k+1)) {
			prevK = k + 1
		}
		prevX := prev(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			rev = append(rev, edit{' ', a[x-1]})
			x, y = x-1, y-1
		}
		if x == prevX {
			rev = append(rev, edit{'+', b[y-1]})
			y--
		} else {
			rev = append(rev, edit{'-', a[x-1]})
			x--
		}
	}
	for x > 0 && y > 0 {
		rev = append(rev, edit{' ', a[x-1]})
		x, y = x-1, y-1
	}
	out := make([]edit, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out
}

func replaceAll(a, b []string) []edit {
	out := make([]edit, 0, len(a)+len(b))
	for _, l := range a {
		out = append(out, edit{'-', l})
	}
	for _, l := range b {
		out = append(out, edit{'+', l})
	}
	return out
}
