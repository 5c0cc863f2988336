package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkPaths refuses, as a usage error (exit status 2), a path of the command line
// that does not exist: an argument, or the value of flag when flag is not "". Every
// command says it alike, before it does anything, since the command line must change.
// A path that exists but cannot be read is the command's to report. DIR/... is
// checked as DIR.
func checkPaths(flag string, paths ...string) error {
	for _, p := range paths {
		if root, ok := strings.CutSuffix(p, "..."); ok && flag == "" {
			p = filepath.Clean(root) // DIR/...: DIR must exist
		}
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if flag != "" {
			return badFlag(flag, " %s: no such file or directory", p)
		}
		return usage("%s: no such file or directory", p)
	}
	return nil
}
