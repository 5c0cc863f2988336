package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is set at link time for releases:
// go build -ldflags "-X main.buildVersion=v1.2.3" ./cmd/hookflow
var buildVersion string

// version describes this build: the release, or the module version and the commit it
// was built from, with the Go version and platform.
func version() string { return versionOf(debug.ReadBuildInfo) }

// versionOf is version, reading the build's information with readBuildInfo. The go
// command records the commit (vcs.revision, and vcs.modified when the checkout had
// changes) when it builds in a git checkout, unless -buildvcs=false; go run and go
// test do not.
func versionOf(readBuildInfo func() (*debug.BuildInfo, bool)) string {
	v, commit := buildVersion, ""
	if info, ok := readBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version // "(devel)" when built from a checkout
		}
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if revision != "" {
			commit = " commit " + revision
			if modified == "true" {
				commit += "-dirty" // built with changes not committed
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("hookflow %s%s, %s %s/%s", v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		GroupID: "other",
		Short:   "Print the version of hookflow",
		Example: "  hookflow version",
		Args:    maxArgs(0),
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version())
		},
	}
}
