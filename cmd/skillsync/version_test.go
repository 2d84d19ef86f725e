package main

import (
	"bytes"
	"context"
	"regexp"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersion: `skillsync version` and --version print the same line,
// without reading a configuration.
func TestVersion(t *testing.T) {
	t.Parallel()
	want := regexp.MustCompile(`^skillsync devel \(unknown, ` + regexp.QuoteMeta(runtime.Version()) + `\)\n$`)
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}, {"version", "--config", "/nonexistent.yaml"}} {
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), args, &env{stdout: &stdout, stderr: &stderr, lookupEnv: envMap()})
		if code != exitOK || !want.MatchString(stdout.String()) || stderr.Len() > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
		outs = append(outs, stdout.String())
	}
	if outs[0] != outs[1] {
		t.Errorf("version %q and --version %q differ", outs[0], outs[1])
	}
}

func TestVCSRevision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, ""},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "9c4e643"}, {Key: "vcs.modified", Value: "false"}}, "9c4e643"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "9c4e643"}}, "9c4e643-dirty"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, ""},
	}
	for _, tt := range tests {
		if got := vcsRevision(tt.settings); got != tt.want {
			t.Errorf("vcsRevision(%v) = %q, want %q", tt.settings, got, tt.want)
		}
	}
}
