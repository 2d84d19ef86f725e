package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time by the Dockerfile and .ci/run:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)"
//
// Left empty, they come from the build information Go records (the module
// version of `go install ...@v1.2.3`, the VCS revision of a build in a
// git checkout), else "devel" and "unknown".
var (
	version string
	commit  string
)

// buildInfo is what this binary knows of how it was built.
type buildInfo struct {
	Version   string // v1.2.3, or devel
	Revision  string // the VCS commit, or unknown
	GoVersion string // go1.26.8
}

// String is `skillsync version`'s line: VERSION (COMMIT, GOVERSION).
func (b buildInfo) String() string {
	return fmt.Sprintf("%s (%s, %s)", b.Version, b.Revision, b.GoVersion)
}

// currentBuild reads the stamped values, falling back on debug.BuildInfo.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Revision: commit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.Revision == "" {
			b.Revision = vcsRevision(info.Settings)
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// vcsRevision is the commit of a build made in a VCS checkout (with
// -buildvcs, Go's default there), with "-dirty" when the tree had changes.
func vcsRevision(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

func (c *cli) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Long: `Print skillsync's version, the commit it was built from and the Go version that
built it, as "skillsync VERSION (COMMIT, GOVERSION)". The same as --version. No
configuration is read.`,
		Example: `  skillsync version
  docker run --rm skillsync version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "skillsync %s\n", currentBuild())
			return err
		},
	}
}

// versionTemplate is --version's output, the same line as `skillsync version`.
const versionTemplate = "skillsync {{.Version}}\n"
