package main

import (
	"fmt"
	"io"
)

func validateCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate [DIR]", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := "."
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	set := load(dir, kinds(nil), stderr)
	if set == nil {
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s: %d workflows, no problems\n", dir, len(set.Workflows()))
	return nil
}
