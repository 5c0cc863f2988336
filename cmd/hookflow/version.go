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

// build is what a process tells of the build it runs: hookflow version prints it,
// serve's and worker's start line logs it, GET /api/v1/status shows it and
// hookflow_build_info labels it, so that the processes of a fleet in a rolling deploy
// can be told apart.
type build struct {
	Version string // the release, or the module's version; "(devel)" when neither is known
	// Revision is the commit it was built from, 12 hex digits, with -dirty when the
	// checkout had changes; "" when not known.
	Revision string
	Go       string // the Go version it was built with
}

// thisBuild is this process's build.
func thisBuild() build { return buildOf(debug.ReadBuildInfo) }

// version describes this build: the release, or the module version and the commit it
// was built from, with the Go version and platform.
func version() string { return thisBuild().String() }

// buildOf is thisBuild, reading the build's information with readBuildInfo. The go
// command records the commit (vcs.revision, and vcs.modified when the checkout had
// changes) when it builds in a git checkout, unless -buildvcs=false; go run and go
// test do not.
func buildOf(readBuildInfo func() (*debug.BuildInfo, bool)) build {
	b := build{Version: buildVersion, Go: runtime.Version()}
	if info, ok := readBuildInfo(); ok {
		if b.Version == "" {
			b.Version = info.Main.Version // "(devel)" when built from a checkout
		}
		var modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(b.Revision) > 12 {
			b.Revision = b.Revision[:12]
		}
		if b.Revision != "" && modified == "true" {
			b.Revision += "-dirty" // built with changes not committed
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// String is the build as hookflow version prints it.
func (b build) String() string {
	commit := ""
	if b.Revision != "" {
		commit = " commit " + b.Revision
	}
	return fmt.Sprintf("hookflow %s%s, %s %s/%s", b.Version, commit, b.Go, runtime.GOOS, runtime.GOARCH)
}

// logAttrs are the build's fields in a start line: version, and revision when known.
func (b build) logAttrs() []any {
	if b.Revision == "" {
		return []any{"version", b.Version}
	}
	return []any{"version", b.Version, "revision", b.Revision}
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
