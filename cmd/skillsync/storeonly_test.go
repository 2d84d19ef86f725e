package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreCommandsIgnoreExpansionElsewhere: the commands that only need
// the database (migrate, runs) run on an admin's machine where the
// daemon's secret files are not mounted and its environment is not set: a
// ${file:PATH} that cannot be read and an unset ${VAR} under sync do not
// stop them (they say the configuration has problems), while plan, which
// uses them, fails naming both; one under database stops them too.
func TestStoreCommandsIgnoreExpansionElsewhere(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "lp_secret")
	f := setup(t, "sync: {policy: \"${POLICY}\"}\n")
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(raw), `client_secret: "${LP_CLIENT_SECRET}"`, `client_secret: "${file:`+missing+`}"`, 1)
	if err := os.WriteFile(f.configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate"}, {"runs"}} {
		_, stderr := f.mustRun(exitOK, args...)
		if !strings.Contains(stderr, "problems this command does not depend on") {
			t.Errorf("skillsync %s: stderr lacks the note on other problems:\n%s", args[0], stderr)
		}
	}
	_, stderr := f.mustRun(exitError, "plan")
	for _, want := range []string{"liveperson.auth.client_secret: ${file:" + missing + "} cannot be read", "sync.policy: ${POLICY} is not set"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("plan: stderr lacks %q:\n%s", want, stderr)
		}
	}

	// The database's own reference is another matter.
	text = strings.Replace(text, `url: "${DB_URL}"`, `url: "${file:`+missing+`}"`, 1)
	if err := os.WriteFile(f.configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr = f.mustRun(exitError, "runs")
	if !strings.Contains(stderr, "database.url: ${file:"+missing+"} cannot be read") {
		t.Errorf("runs with an unreadable database.url: stderr lacks the problem:\n%s", stderr)
	}
}
