package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// futureVersion numbers the migration a "newer skillsync" applied.
const futureVersion = 90001

// TestNewerSchemaRefused: on a database that a newer skillsync has migrated
// every command that uses the database exits 1 naming both schema versions,
// before any LivePerson call; migrate status shows the unknown migration.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.mustRun(exitOK, "sync")
	pgtest.MigrateTo(t, f.dbURL, 0, futureVersion)
	f.sim.ResetLog()
	known := strconv.FormatInt(store.KnownSchemaVersion(), 10)

	for _, args := range [][]string{{"plan"}, {"sync"}, {"sync", "--format", "json"}, {"run"}, {"migrate"}, {"runs"}, {"runs", "show", "1"}, {"release", "Sales"}} {
		_, errOut := f.mustRun(exitError, args...)
		for _, want := range []string{"schema version 90001", "newer than this build of skillsync knows (" + known + ")", "This is skillsync devel (", "refuses to work on it"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("skillsync %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, errOut)
			}
		}
	}
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("%d requests reached LivePerson", n)
	}

	out, errOut := f.mustRun(exitError, "migrate", "status")
	if !regexp.MustCompile(`(?m)^90001\s+\? \(not in this build\)\s+unknown\s+\d{4}-`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^1\s+00001_initial.sql\s+applied\s+\d{4}-`).MatchString(out) ||
		!strings.Contains(out, "schema version  90001 (this skillsync knows up to "+known+")") {
		t.Errorf("migrate status on a newer schema:\n%s", out)
	}
	if !strings.Contains(errOut, "schema version 90001") {
		t.Errorf("migrate status: stderr lacks the refusal:\n%s", errOut)
	}
	// The newer schema is left as it was.
	if v := schemaVersion(t, f.dbURL); v != futureVersion {
		t.Errorf("schema version %d after the refusals, want %d", v, futureVersion)
	}
}

// TestReadOnlyCommandsNeverMigrate: runs, runs show and config check leave
// a database that is empty, or behind, as it is, and say what to do;
// migrate status lists what is pending.
func TestReadOnlyCommandsNeverMigrate(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.dbURL = pgtest.EmptyDB(t)
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret)
	known := store.KnownSchemaVersion()

	for _, args := range [][]string{{"runs"}, {"runs", "show", "1"}} {
		_, errOut := f.mustRun(exitError, args...)
		if !strings.Contains(errOut, "no skillsync tables yet") || !strings.Contains(errOut, "run 'skillsync migrate'") {
			t.Errorf("skillsync %s on an empty database:\n%s", strings.Join(args, " "), errOut)
		}
	}
	f.mustRun(exitOK, "config", "check")
	if n := tableCount(t, f.dbURL); n != 0 {
		t.Fatalf("read-only commands created %d tables", n)
	}

	out, _ := f.mustRun(exitOK, "migrate", "status", "--format", "json")
	var v schemaView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.SchemaVersion != 0 || v.KnownVersion != known ||
		int64(len(v.Migrations)) != known || v.Migrations[0].State != store.MigrationPending || v.Migrations[0].File != "00001_initial.sql" {
		t.Errorf("migrate status --format json on an empty database: %v\n%s", err, out)
	}
	if n := tableCount(t, f.dbURL); n != 0 {
		t.Fatalf("migrate status created %d tables", n)
	}

	pgtest.MigrateTo(t, f.dbURL, 2, 0)
	_, errOut := f.mustRun(exitError, "runs")
	if !strings.Contains(errOut, "schema version 2; this build of skillsync needs "+strconv.FormatInt(known, 10)) {
		t.Errorf("runs on a database behind:\n%s", errOut)
	}
	out, _ = f.mustRun(exitOK, "migrate", "status")
	if !regexp.MustCompile(`(?m)^2\s+00002_\S+\s+applied\s+\d{4}-`).MatchString(out) || !regexp.MustCompile(`(?m)^3\s+00003_\S+\s+pending\s+-$`).MatchString(out) ||
		!strings.Contains(out, strconv.FormatInt(known-2, 10)+" pending: 'skillsync migrate' applies them") {
		t.Errorf("migrate status at version 2:\n%s", out)
	}
	if v := schemaVersion(t, f.dbURL); v != 2 {
		t.Fatalf("schema version %d after read-only commands, want 2", v)
	}

	f.mustRun(exitOK, "migrate")
	out, _ = f.mustRun(exitOK, "runs")
	if !strings.Contains(out, "no runs yet") {
		t.Errorf("runs after migrate: %s", out)
	}
	out, _ = f.mustRun(exitOK, "migrate", "status")
	if !strings.HasSuffix(out, "\nup to date\n") {
		t.Errorf("migrate status after migrate:\n%s", out)
	}
}

func schemaVersion(t *testing.T, url string) int64 {
	t.Helper()
	var v int64
	queryRow(t, url, `SELECT max(version_id) FROM skillsync_schema_version`, &v)
	return v
}

func tableCount(t *testing.T, url string) int {
	t.Helper()
	var n int
	queryRow(t, url, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`, &n)
	return n
}

func queryRow(t *testing.T, url, sql string, dest any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), sql).Scan(dest); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonStopsOnNewerSchema: a daemon that started on its own schema
// runs nothing once a newer skillsync has migrated the database (a rolling
// upgrade's new replica): the trigger answers 500 naming both versions,
// and LivePerson hears nothing.
func TestDaemonStopsOnNewerSchema(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/runs", testTriggerToken); code != 200 {
		t.Fatalf("first run: %d %s", code, body)
	}
	pgtest.MigrateTo(t, f.dbURL, 0, futureVersion)
	f.sim.ResetLog()
	code, body, _ := d.do("POST", "/v1/runs", testTriggerToken)
	if code != 500 || !strings.Contains(body, "schema version 90001") || !strings.Contains(body, "newer than this build of skillsync knows") {
		t.Errorf("run on a newer schema: %d %s", code, body)
	}
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("%d requests reached LivePerson", n)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"run refused: the database schema is newer than this skillsync"`) {
		t.Errorf("the refusal is not logged:\n%s", d.stderr.String())
	}
}
