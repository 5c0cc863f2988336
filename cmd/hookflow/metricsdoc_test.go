package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docs/api.md lists every metric family hookflow registers, in any of its packages,
// with its labels, and no family it does not: the families are read from the code
// (every prometheus.*Opts literal and prometheus.NewDesc call outside tests), so a
// family added anywhere fails this test until the table has its row.
func TestAPIDocListsEveryMetricFamily(t *testing.T) {
	code := codeMetricFamilies(t, "../..")
	if len(code) < 10 {
		t.Fatalf("only %d metric families found in the code: %v", len(code), code)
	}
	doc := docMetricFamilies(t, "../../docs/api.md")
	for _, name := range slices.Sorted(maps.Keys(code)) {
		labels, ok := doc[name]
		if !ok {
			t.Errorf("docs/api.md's metrics table has no row for %s (labels %v)", name, code[name])
			continue
		}
		for _, l := range code[name] {
			if !labels[l] {
				t.Errorf("docs/api.md's row for %s does not name its label %q", name, l)
			}
		}
	}
	for name := range doc {
		if _, ok := code[name]; !ok {
			t.Errorf("docs/api.md lists %s, which hookflow does not register", name)
		}
	}
}

// codeMetricFamilies reads the metric families the non-test Go files under root
// declare, with their labels, variable and constant: each prometheus.*Opts literal (its
// labels those of the New*Vec call it is given to) and each prometheus.NewDesc call. A
// name or labels that are not written out as literals fail t: the test could not read
// them.
func codeMetricFamilies(t *testing.T, root string) map[string][]string {
	t.Helper()
	families := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		vecLabels := map[*ast.CompositeLit][]string{} // an Opts literal given to a New*Vec call
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				fn := prometheusName(n.Fun)
				switch {
				case fn == "NewDesc" && len(n.Args) == 4:
					name := stringLit(t, fset, n.Args[0])
					families[name] = append(stringsLit(t, fset, n.Args[2]), mapKeysLit(t, fset, n.Args[3])...)
				case strings.HasPrefix(fn, "New") && strings.HasSuffix(fn, "Vec") && len(n.Args) == 2:
					if opts, ok := n.Args[0].(*ast.CompositeLit); ok {
						vecLabels[opts] = stringsLit(t, fset, n.Args[1])
					}
				}
			case *ast.CompositeLit:
				if kind := prometheusName(n.Type); !strings.HasSuffix(kind, "Opts") {
					return true
				}
				name, labels := "", vecLabels[n]
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						t.Errorf("%s: an Opts literal without field names", fset.Position(n.Pos()))
						continue
					}
					switch key := kv.Key.(*ast.Ident).Name; key {
					case "Name":
						name = stringLit(t, fset, kv.Value)
					case "ConstLabels":
						labels = append(labels, mapKeysLit(t, fset, kv.Value)...)
					case "Namespace", "Subsystem":
						t.Errorf("%s: a metric named with %s: write its whole name in Name", fset.Position(kv.Pos()), key)
					}
				}
				families[name] = labels
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// prometheusName is the name of prometheus.NAME, "" for another expression.
func prometheusName(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "prometheus" {
			return sel.Sel.Name
		}
	}
	return ""
}

func stringLit(t *testing.T, fset *token.FileSet, e ast.Expr) string {
	t.Helper()
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		if s, err := strconv.Unquote(lit.Value); err == nil {
			return s
		}
	}
	t.Errorf("%s: a metric's name or label that is not a string literal", fset.Position(e.Pos()))
	return ""
}

// stringsLit reads []string{"a", "b"}; nil is none.
func stringsLit(t *testing.T, fset *token.FileSet, e ast.Expr) []string {
	t.Helper()
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Errorf("%s: a metric's labels that are not a []string literal", fset.Position(e.Pos()))
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		out = append(out, stringLit(t, fset, el))
	}
	return out
}

// mapKeysLit reads the keys of prometheus.Labels{"a": …}; nil is none.
func mapKeysLit(t *testing.T, fset *token.FileSet, e ast.Expr) []string {
	t.Helper()
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Errorf("%s: constant labels that are not a prometheus.Labels literal", fset.Position(e.Pos()))
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			out = append(out, stringLit(t, fset, kv.Key))
		}
	}
	return out
}

// docMetricFamilies reads the metrics table of api.md: each family of a row's first
// cell (a row may name several), with the words its labels cell shows as code.
func docMetricFamilies(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| family | labels | counts |\n|---|---|---|\n")
	if !ok {
		t.Fatalf("%s has no metrics table (| family | labels | counts |)", path)
	}
	table, _, _ = strings.Cut(table, "\n\n")
	code := regexp.MustCompile("`([^`]*)`")
	families := map[string]map[string]bool{}
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(row, "| "), "|")
		if len(cells) != 3 {
			t.Errorf("%s: a row of the metrics table that is not three cells: %s", path, row)
			continue
		}
		labels := map[string]bool{}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			labels[m[1]] = true
		}
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			families[m[1]] = labels
		}
	}
	return families
}
