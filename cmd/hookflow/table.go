package main

import (
	"io"
	"text/tabwriter"
)

// table is a tabwriter whose cells are escaped for a terminal (termSafe) before they
// are measured: a column holding an escape (\u0001 where a map key had a control
// character) is as wide as the text shown, and the columns after it stay aligned.
// Every table the commands print is one.
type table struct {
	termSafeWriter // writes into tw, escaped
	tw             *tabwriter.Writer
}

// newTable returns a table that writes its aligned lines to w.
func newTable(w io.Writer) *table {
	if t, ok := w.(termSafeWriter); ok {
		w = t.w // the cells come escaped already
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	return &table{termSafeWriter{tw}, tw}
}

// Flush writes the lines written so far, aligned.
func (t *table) Flush() error { return t.tw.Flush() }
