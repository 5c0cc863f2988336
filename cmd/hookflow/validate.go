package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "validate [DIR]",
		GroupID: "author",
		Short:   "Check the workflows in DIR without running them",
		Long: `validate loads every workflow file in DIR (default: the current directory) as serve
would, and reports every problem in every file with its file:line:col and the line
itself. It exits 0 when there are no errors (warnings are printed), 1 when there are.`,
		Example: `  hookflow validate examples/quickstart
  hookflow validate . && git push`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) > 0 {
				dir = args[0]
			}
			stdout := cmd.OutOrStdout()
			set, warnings := load(dir, kinds(nil, nil), cmd.ErrOrStderr())
			if set == nil {
				return exitError(exitFailed)
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
		},
	}
}
