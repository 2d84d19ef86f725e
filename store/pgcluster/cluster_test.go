package pgcluster_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/store/pgcluster"
)

// skipExternal skips a test when the tests are pointed at an existing
// server (SKILLSYNC_TEST_DATABASE_URL, as store/pgtest reads it): such a
// machine need not have the PostgreSQL server binaries.
func skipExternal(t *testing.T) {
	t.Helper()
	if os.Getenv("SKILLSYNC_TEST_DATABASE_URL") != "" {
		t.Skip("uses an external server; the throwaway cluster is not exercised")
	}
}

// TestPauseResume checks that a paused cluster refuses connections and
// ends open sessions, and that Resume brings it back on the same URL with
// its data.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	skipExternal(t)
	ctx := t.Context()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	url := c.URL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the pause')"); err != nil {
		t.Fatal(err)
	}

	if err := c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(ctx); err != nil {
		t.Errorf("second Pause: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Errorf("a session opened before the pause still works")
	}
	if other, err := pgx.Connect(ctx, url); err == nil {
		other.Close(ctx)
		t.Errorf("a paused cluster accepts connections")
	}

	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx); err != nil {
		t.Errorf("second Resume: %v", err)
	}
	if c.URL() != url {
		t.Errorf("URL after Resume %s, before %s", c.URL(), url)
	}
	again, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var v string
	err = again.QueryRow(ctx, "SELECT v FROM kept").Scan(&v)
	again.Close(ctx)
	if err != nil || v != "before the pause" {
		t.Errorf("data after Resume: %q, %v", v, err)
	}

	if err := c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop of a paused cluster: %v", err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after Stop (stat: %v)", c.Dir(), err)
	}
	if err := c.Resume(ctx); err == nil {
		t.Errorf("Resume after Stop succeeded")
	}
}

// TestStart checks a standalone cluster: it serves its database and Stop
// removes its files.
func TestStart(t *testing.T) {
	t.Parallel()
	skipExternal(t)
	c, err := pgcluster.Start(t.Context(), pgcluster.Options{Database: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	conn, err := pgx.Connect(t.Context(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	if db != "demo" {
		t.Errorf("current_database() = %q, want demo", db)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after Stop (stat: %v)", c.Dir(), err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestBinaryLinksNoTesting: the demo's cluster comes from this package, so
// neither it nor the skillsync binary pulls in the testing package (and
// its flags) as they did when the cluster lived in store/pgtest.
func TestBinaryLinksNoTesting(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the imports with")
	}
	for _, pkg := range []string{"github.com/skillsync/skillsync/store/pgcluster", "github.com/skillsync/skillsync/cmd/skillsync"} {
		out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if deps := strings.Fields(string(out)); slices.Contains(deps, "testing") {
			t.Errorf("%s imports testing", pkg)
		}
	}
}
