package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/workflows"
)

func validateCommand() *cobra.Command {
	var strict bool
	var format string
	cmd := &cobra.Command{
		Use:     "validate [--strict] [--format text|json] [PATH ...]",
		GroupID: "author",
		Short:   "Check workflow files without running them",
		Long: `validate loads the workflow files at each PATH (a directory with its subdirectories,
or a file; default: the current directory) and reports every problem in every file
with its file:line:col and the line itself. Each PATH is checked on its own, as one
serve would load it; DIR/... is each set of workflows under DIR (a directory holding
workflow files, with its subdirectories), checked on its own, as hookflow test runs
them. A file is checked with its directory: it may use the vars and api
blocks of the other files there and call their workflows. The problems of the files
with vars or api blocks are reported too, not those of the other files' workflows.

It needs none of the secrets: an env() without a default or a secret() whose variable
is not set reads as a placeholder that passes every check of the place where it is
used, and the variables are listed at the end, once. --strict makes each of them an
error, as serve and worker do (and run, for what the workflow it runs reads).

--format json prints one JSON document instead, for editors and CI annotations: every
diagnostic with its file, line and column, and the variables not set (docs/cli.md
describes its shape). It exits 0 when there are no errors (warnings are printed), 1
when there are.`,
		Example: `  hookflow validate examples/quickstart
  hookflow validate examples/...            # in CI, without the secrets
  hookflow validate --strict . && git push  # where the secrets are set
  hookflow validate --format json workflows/ | jq '.diagnostics[]'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			if err := checkPaths("", args...); err != nil {
				return err
			}
			results := make([]validation, 0, len(args))
			k := kinds(nil, nil)
			for _, p := range expandSets(args) {
				results = append(results, validatePath(p, k, strict))
			}
			var err error
			if format == "json" {
				err = writeValidationJSON(cmd.OutOrStdout(), results)
			} else {
				// a file's name may hold what a terminal would act on, as a snippet may
				err = writeValidation(termSafe(cmd.OutOrStdout()), termSafe(cmd.ErrOrStderr()), results)
			}
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.diags.HasErrors() {
					return exitError(exitFailed)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "report every env() without a default and secret() whose variable is not set as an error")
	cmd.Flags().Var(newOneOf(&format, "text", "text", "json"), "format", "`text` for people, json for editors and CI")
	return cmd
}

// validation is what validate found at one path.
type validation struct {
	path      string
	srcs      []workflows.Source
	diags     hcl.Diagnostics
	workflows int
	tests     int
	unset     []workflows.Unset
}

func validatePath(p string, k *workflows.Kinds, strict bool) validation {
	v := validation{path: p}
	opts := workflows.Options{AllowUnset: !strict}
	info, err := os.Stat(p)
	switch {
	case workflows.IsTestFile(p):
		// a test file is checked against the workflows beside it
		opts.Dir = filepath.Dir(p)
		v.srcs, v.diags = readPath(opts.Dir)
	case err == nil && !info.IsDir():
		// a workflow file is checked with the vars and api blocks of its directory
		v.srcs, v.diags = withDirectory(p)
		opts.File = p
	default:
		opts.Dir = p
		v.srcs, v.diags = readPath(p)
	}
	if v.diags.HasErrors() {
		return v
	}
	set, diags := workflows.LoadWith(v.srcs, k, opts)
	v.diags = append(v.diags, diags...) // after the reading's warnings
	if set != nil {
		v.workflows = len(set.Workflows())
		v.unset = set.Unset()
	}
	if err == nil && (info.IsDir() || workflows.IsTestFile(p)) {
		testSrcs, diags := workflows.ReadTests(p)
		v.diags = append(v.diags, diags...)
		tests, diags := workflows.LoadTests(testSrcs, set)
		v.srcs = append(v.srcs, testSrcs...)
		v.diags = append(v.diags, diags...)
		v.tests = len(tests)
	}
	if v.diags.HasErrors() {
		// a path with errors, in its workflows or its tests, holds nothing yet: no
		// count, and no variables for serve to set
		v.workflows, v.tests, v.unset = 0, 0, nil
	}
	return v
}

// withDirectory reads a workflow file and the other workflow files of its directory,
// as serve would load that directory; the file keeps the name it was given by.
func withDirectory(p string) ([]workflows.Source, hcl.Diagnostics) {
	srcs, diags := workflows.ReadDir(filepath.Dir(p))
	if diags.HasErrors() {
		return nil, diags
	}
	for i, s := range srcs {
		if filepath.Clean(s.Name) == filepath.Clean(p) {
			srcs[i].Name = p
			return srcs, nil
		}
	}
	// a file serve would not load (a hidden one, another extension): checked all the same
	own, diags := readPath(p)
	return append(srcs, own...), diags
}

// counted says how many workflows, and tests when there are any, a path holds.
func (v validation) counted() string {
	s := fmt.Sprintf("%d workflow%s", v.workflows, plural(v.workflows))
	if v.tests > 0 {
		s += fmt.Sprintf(", %d test%s", v.tests, plural(v.tests))
	}
	return s
}

func writeValidation(stdout, stderr io.Writer, results []validation) error {
	for _, r := range results {
		if len(r.diags) > 0 {
			if err := workflows.WriteDiagnostics(stderr, r.srcs, r.diags); err != nil {
				return err
			}
		}
	}
	for _, r := range results {
		errs, warnings := count(r.diags)
		switch {
		case errs > 0:
			fmt.Fprintf(stdout, "%s: %d error%s, %d warning%s\n", r.path, errs, plural(errs), warnings, plural(warnings))
		case warnings > 0:
			fmt.Fprintf(stdout, "%s: %s, no errors, %d warning%s\n", r.path, r.counted(), warnings, plural(warnings))
		default:
			fmt.Fprintf(stdout, "%s: %s, no problems\n", r.path, r.counted())
		}
	}
	for _, line := range unsetNote(results) {
		fmt.Fprintln(stdout, line)
	}
	return nil
}

func count(diags hcl.Diagnostics) (errs, warnings int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warnings++
		}
	}
	return errs, warnings
}

// unsetNote lists, once, the variables the files read and that are not set: secrets,
// then other environment variables.
func unsetNote(results []validation) []string {
	seen := map[string]bool{}
	var secrets, others []string
	for _, r := range results {
		for _, u := range r.unset {
			if seen[u.Name] {
				continue
			}
			seen[u.Name] = true
			if u.Secret {
				secrets = append(secrets, u.Name)
			} else {
				others = append(others, u.Name)
			}
		}
	}
	var lines []string
	for _, group := range []struct {
		names        []string
		one, several string
	}{{secrets, "secret", "secrets"}, {others, "environment variable", "environment variables"}} {
		if len(group.names) == 0 {
			continue
		}
		sort.Strings(group.names)
		what, them := group.one, "it"
		if len(group.names) > 1 {
			what, them = group.several, "them"
		}
		lines = append(lines, fmt.Sprintf("%d %s not set: %s — serve needs %s",
			len(group.names), what, strings.Join(group.names, ", "), them))
	}
	return lines
}

// jsonValidation is the document validate --format json prints; docs/cli.md shows it.
type jsonValidation struct {
	Valid       bool             `json:"valid"`
	Paths       []jsonPath       `json:"paths"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
	Unset       []jsonUnset      `json:"unset"`
}

type jsonPath struct {
	Path      string `json:"path"`
	Workflows int    `json:"workflows"`
	Errors    int    `json:"errors"`
	Warnings  int    `json:"warnings"`
}

type jsonDiagnostic struct {
	Severity string `json:"severity"` // "error" or "warning"
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	jsonRange
}

// jsonRange is where a diagnostic or a use points: lines and columns count from 1,
// columns in characters; the end is just past the range. Absent when there is no place.
type jsonRange struct {
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

type jsonUnset struct {
	Name      string   `json:"name"`
	Secret    bool     `json:"secret"`
	Workflows []string `json:"workflows"`
	jsonRange
}

func rangeOf(r *hcl.Range) jsonRange {
	if r == nil {
		return jsonRange{}
	}
	return jsonRange{File: r.Filename, Line: r.Start.Line, Column: r.Start.Column, EndLine: r.End.Line, EndColumn: r.End.Column}
}

func writeValidationJSON(stdout io.Writer, results []validation) error {
	doc := jsonValidation{Valid: true, Paths: []jsonPath{}, Diagnostics: []jsonDiagnostic{}, Unset: []jsonUnset{}}
	seen := map[string]bool{}
	for _, r := range results {
		errs, warnings := count(r.diags)
		doc.Valid = doc.Valid && errs == 0
		doc.Paths = append(doc.Paths, jsonPath{Path: r.path, Workflows: r.workflows, Errors: errs, Warnings: warnings})
		for _, d := range workflows.SortDiagnostics(r.diags) {
			severity := "error"
			if d.Severity == hcl.DiagWarning {
				severity = "warning"
			}
			doc.Diagnostics = append(doc.Diagnostics, jsonDiagnostic{Severity: severity, Summary: d.Summary, Detail: d.Detail, jsonRange: rangeOf(d.Subject)})
		}
		for _, u := range r.unset {
			if !seen[u.Name] {
				seen[u.Name] = true
				doc.Unset = append(doc.Unset, jsonUnset{Name: u.Name, Secret: u.Secret, Workflows: u.Workflows, jsonRange: rangeOf(&u.Range)})
			}
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// expandSets gives the paths with each DIR/... replaced by the sets of workflows
// under DIR, in order, and each path once.
func expandSets(paths []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if key := samePath(p); !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		root, ok := strings.CutSuffix(p, "...")
		if !ok {
			add(p)
			continue
		}
		root = filepath.Clean(root)
		if info, err := os.Stat(root); err != nil || !info.IsDir() {
			add(root) // reading it says what is wrong
			continue
		}
		for _, d := range findWorkflowSets(root).dirs() {
			add(d)
		}
	}
	return out
}
