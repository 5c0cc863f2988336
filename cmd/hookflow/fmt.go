package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/workflows"
)

// fmtCommand rewrites workflow files in canonical formatting. With --check it changes
// nothing, prints what it would change as a diff and exits 1 if there is any.
func fmtCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:     "fmt [--check] [PATH ...]",
		GroupID: "author",
		Short:   "Format workflow files canonically",
		Long: `fmt rewrites the workflow files, and the test files (*.test.hcl), at each PATH (a
file, a directory with its subdirectories, DIR/... as DIR, or - for standard input;
default: the current directory) in canonical formatting, and lists the files it
changed, each once. With
--check it changes nothing: it prints what it would change as a unified diff (diff -u,
which patch -p0 applies) and exits 1 if there is anything.`,
		Example: `  hookflow fmt workflows/
  hookflow fmt --check .        # in CI
  hookflow fmt - < order.hcl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return formatPaths(args, check, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "print what formatting would change as a diff and exit 1, without changing the files")
	return cmd
}

func formatPaths(paths []string, check bool, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if slices.Contains(paths, "-") {
		if len(paths) > 1 {
			return usage("- (standard input) cannot be combined with other paths")
		}
		return fmtStdin(stdin, stdout, stderr, check)
	}
	if err := checkPaths("", paths...); err != nil {
		return err
	}
	var srcs []workflows.Source
	for _, p := range paths {
		if root, ok := strings.CutSuffix(p, "..."); ok {
			p = filepath.Clean(root) // a directory's subdirectories are formatted with it
		}
		more, diags := readPath(p)
		if diags.HasErrors() {
			_ = workflows.WriteDiagnostics(stderr, nil, diags)
			return exitError(1)
		}
		srcs = append(srcs, more...)
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			tests, _ := workflows.ReadTests(p) // the directory was read above
			srcs = append(srcs, tests...)
		}
	}
	failed := false
	seen := map[string]bool{} // each file once, however many paths name it
	for _, src := range srcs {
		target := writtenPath(src.Name)
		if seen[target] {
			continue
		}
		seen[target] = true
		if !formatFile(src, target, check, stdout, stderr) {
			failed = true
		}
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// formatFile formats src, whose file is target, and writes it there; with check it
// prints the diff of what it would change instead. It reports false on a failure, or
// with check when there is anything to change, having said why on stderr.
func formatFile(src workflows.Source, target string, check bool, stdout, stderr io.Writer) bool {
	var read *os.File
	if !check {
		// Read again, from the file that is written, kept open until it is: what is
		// formatted is what it holds, and a file put in its place since is told from it.
		data, f, err := workflows.ReadFileOpen(target)
		if err != nil {
			fmt.Fprintf(stderr, "hookflow fmt: %s: %v\n", src.Name, err)
			return false
		}
		defer f.Close()
		src.Data, read = data, f
	}
	out, diags := workflows.Format(src.Data, src.Name)
	if diags.HasErrors() {
		_ = workflows.WriteDiagnostics(stderr, []workflows.Source{src}, diags)
		return false
	}
	if bytes.Equal(out, src.Data) {
		return true
	}
	if check {
		fmt.Fprint(stdout, unifiedDiff(src.Name, src.Name, src.Data, out))
		return false
	}
	if err := writeFormatted(target, read, src.Data, out); err != nil {
		fmt.Fprintf(stderr, "hookflow fmt: %s: %v\n", src.Name, err)
		return false
	}
	fmt.Fprintln(termSafe(stdout), src.Name)
	return true
}

// fmtStdin formats standard input to standard output; with check it prints what it
// would change as a diff instead, and exits 1 when there is anything.
func fmtStdin(stdin io.Reader, stdout, stderr io.Writer, check bool) error {
	data, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	out, diags := workflows.Format(data, "<stdin>")
	if diags.HasErrors() {
		_ = workflows.WriteDiagnostics(stderr, []workflows.Source{{Name: "<stdin>", Data: data}}, diags)
		return exitError(1)
	}
	if check {
		if bytes.Equal(out, data) {
			return nil
		}
		fmt.Fprint(stdout, unifiedDiff("<stdin>", "<stdin>", data, out))
		return exitError(1)
	}
	_, err = stdout.Write(out)
	return err
}

// writtenPath is the file that writing path writes: the file a symbolic link points
// to, as an absolute path with no link in it. It is resolved before the file is read,
// and then read, written and checked by that path alone: a link put in the file's
// place later is not followed.
func writtenPath(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	return samePath(path)
}
