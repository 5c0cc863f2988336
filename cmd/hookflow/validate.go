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
	set, warnings := load(dir, kinds(nil, nil), stderr)
	if set == nil {
		return exitError(1)
	}
	switch warnings {
	case 0:
		fmt.Fprintf(stdout, "%s: %d workflows, no problems\n", dir, len(set.Workflows()))
	case 1:
		fmt.Fprintf(stdout, "%s: %d workflows, no errors, 1 warning\n", dir, len(set.Workflows()))
	default:
		fmt.Fprintf(stdout, "%s: %d workflows, no errors, %d warnings\n", dir, len(set.Workflows()), warnings)
	}
	return nil
}
