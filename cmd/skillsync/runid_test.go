package main

import (
	"strings"
	"testing"
)

// TestRunIDArgument: apply and runs show refuse a RUN_ID that is not a
// positive number, saying where one is found, and touch nothing.
func TestRunIDArgument(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, args := range [][]string{{"runs", "show", "abc"}, {"apply", "0", "--yes"}} {
		_, stderr := f.mustRun(exitError, args...)
		if !strings.Contains(stderr, "want a positive number") || !strings.Contains(stderr, "skillsync runs") {
			t.Errorf("skillsync %s: %s", strings.Join(args, " "), stderr)
		}
	}
	if n := len(f.sim.Skills(false)); n != 0 {
		t.Errorf("%d skills written", n)
	}
}
