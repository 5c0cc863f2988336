package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/hookflow/hookflow/workflows"
)

// fmtCommand rewrites workflow files in canonical formatting. With --check it changes
// nothing, lists the files that would change and exits 1 if there are any.
func fmtCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("fmt", "fmt [--check] [PATH ...]  (PATH: a file, a directory, or - for stdin)", stderr)
	check := fs.Bool("check", false, "list files whose formatting would change and exit 1, without changing them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if slices.Contains(paths, "-") {
		if len(paths) > 1 {
			fmt.Fprintln(stderr, "hookflow fmt: - (standard input) cannot be combined with other paths")
			return errUsage
		}
		return fmtStdin(stdin, stdout, stderr, *check)
	}
	var srcs []workflows.Source
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			fmt.Fprintln(stderr, "hookflow fmt:", err)
			return exitError(1)
		}
		if !info.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintln(stderr, "hookflow fmt:", err)
				return exitError(1)
			}
			srcs = append(srcs, workflows.Source{Name: p, Data: data})
			continue
		}
		dir, diags := workflows.ReadDir(p)
		if diags.HasErrors() {
			_ = workflows.WriteDiagnostics(stderr, nil, diags)
			return exitError(1)
		}
		srcs = append(srcs, dir...)
	}
	failed := false
	for _, src := range srcs {
		out, diags := workflows.Format(src.Data, src.Name)
		if diags.HasErrors() {
			_ = workflows.WriteDiagnostics(stderr, []workflows.Source{src}, diags)
			failed = true
			continue
		}
		if bytes.Equal(out, src.Data) {
			continue
		}
		fmt.Fprintln(stdout, src.Name)
		if *check {
			failed = true
			continue
		}
		if err := writeKeepingMode(src.Name, out); err != nil {
			fmt.Fprintln(stderr, "hookflow fmt:", err)
			failed = true
		}
	}
	if failed {
		return exitError(1)
	}
	return nil
}

// fmtStdin formats standard input to standard output; with check it prints nothing
// but "<stdin>" when the input is not formatted, and exits 1 then.
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
		fmt.Fprintln(stdout, "<stdin>")
		return exitError(1)
	}
	_, err = stdout.Write(out)
	return err
}

func writeKeepingMode(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, info.Mode().Perm())
}
