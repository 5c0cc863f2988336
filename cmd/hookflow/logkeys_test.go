package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logCalls are the names of the calls that write a log line with key-value pairs:
// slog.Logger's methods, and the rate-limited helpers around them.
var logCalls = map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true, "Log": true, "log": true}

// Every log line names an error err (docs/operations.md#metrics-health-and-logs): one
// query finds them all. A line that names it error is caught here.
func TestLogLinesNameTheirErrorErr(t *testing.T) {
	fset := token.NewFileSet()
	lines := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			args := call.Args
			switch {
			case logCalls[sel.Sel.Name]:
				lines++
			case isPackage(sel, "slog") && len(args) > 0:
				args = args[:1] // slog.String("error", …), slog.Any("error", …)
			default:
				return true
			}
			for i, a := range args {
				if s, ok := a.(*ast.BasicLit); ok && s.Kind == token.STRING && s.Value == strconv.Quote("error") && i+1 < len(call.Args) {
					t.Errorf("%s: a log line names its error %s; name it \"err\", as every other line does", fset.Position(s.Pos()), s.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lines < 100 {
		t.Fatalf("found %d log calls: the scan missed the source", lines)
	}
}

// isPackage reports whether sel is pkg.Something.
func isPackage(sel *ast.SelectorExpr, pkg string) bool {
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
