package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	build := func(version string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/hookflow/hookflow", Version: version}}
			for i := 0; i+1 < len(settings); i += 2 {
				info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return info, true
		}
	}
	const rev = "81b6073e1a2b9c0d4e5f60718293a4b5c6d7e8f9"
	tail := ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		read func() (*debug.BuildInfo, bool)
		want string
	}{
		{"go build in a clean checkout", build("(devel)", "vcs", "git", "vcs.revision", rev, "vcs.modified", "false"),
			"hookflow (devel) commit 81b6073e1a2b" + tail},
		{"go build with changes", build("(devel)", "vcs", "git", "vcs.revision", rev, "vcs.modified", "true"),
			"hookflow (devel) commit 81b6073e1a2b-dirty" + tail},
		{"go build in a checkout, Go 1.24 and later", build("v0.0.0-20261202031811-81b6073e1a2b+dirty", "vcs.revision", rev, "vcs.modified", "true"),
			"hookflow v0.0.0-20261202031811-81b6073e1a2b+dirty commit 81b6073e1a2b-dirty" + tail},
		{"go install of a release", build("v1.4.0"), "hookflow v1.4.0" + tail},
		{"no build information", func() (*debug.BuildInfo, bool) { return nil, false }, "hookflow (devel)" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildOf(tt.read).String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &stdout, &stdout); err != nil ||
		!strings.HasPrefix(stdout.String(), "hookflow ") || !strings.HasSuffix(stdout.String(), tail+"\n") {
		t.Errorf("hookflow version: %v %q", err, stdout.String())
	}
}
