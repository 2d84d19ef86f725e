package store_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// future is the version of the migration that a "newer skillsync" applies
// in these tests.
const future = 90001

// TestMigrateRefusesNewerSchema: a database that a newer skillsync has
// migrated (a migration this build does not know is applied) is refused,
// naming both versions, and nothing is written to it.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	pgtest.MigrateTo(t, url, 0, future)
	st := open(t, url, store.Options{})
	known := store.KnownSchemaVersion()
	if known < 4 {
		t.Fatalf("KnownSchemaVersion = %d, want the newest embedded migration", known)
	}

	for name, check := range map[string]func() error{
		"Migrate":     func() error { return st.Migrate(t.Context()) },
		"CheckSchema": func() error { return st.CheckSchema(t.Context()) },
	} {
		err := check()
		var tooNew *store.SchemaTooNewError
		if !errors.As(err, &tooNew) {
			t.Fatalf("%s on a newer schema = %v, want a SchemaTooNewError", name, err)
		}
		if tooNew.Database != future || tooNew.Known != known || !slices.Equal(tooNew.Unknown, []int64{future}) {
			t.Errorf("%s: %+v", name, tooNew)
		}
		for _, want := range []string{"schema version 90001", "(" + itoa(known) + ")", "newer"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", name, err, want)
			}
		}
	}

	status, err := st.SchemaStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last := status.Migrations[len(status.Migrations)-1]
	if !status.Initialized || status.Database != future || status.Known != known ||
		last.Version != future || last.State != store.MigrationUnknown || last.File != "" || last.AppliedAt == nil {
		t.Errorf("status of a newer schema: %+v, last %+v", status, last)
	}
	if len(status.Pending()) != 0 {
		t.Errorf("pending %v, want none", status.Pending())
	}
}

// TestMigrateRefusesSchemaMigratedWhileWaiting: a Migrate that found
// migrations to apply, then waited for the migration lock while a newer
// skillsync applied them and more (a rolling upgrade), refuses the schema
// it finds once it has the lock instead of reporting success: goose itself
// ignores the versions it does not know, and finds nothing left to do.
func TestMigrateRefusesSchemaMigratedWhileWaiting(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDB(t)
	pgtest.MigrateTo(t, url, store.KnownSchemaVersion()-1, 0)
	st := open(t, url, store.Options{})
	// The newer skillsync holds the migration lock (store.go's
	// migrateLockID, 0x5ea1_0001; were it another, Migrate would not wait
	// and this test would fail).
	newer := connect(t, url)
	if _, err := newer.Exec(t.Context(), `SELECT pg_advisory_lock(1587609601)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Migrate(t.Context()) }()
	// Wait until Migrate is past its first check and asking for the lock.
	watcher := connect(t, url)
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting bool
		if err := watcher.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Migrate returned %v without waiting for the migration lock", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Migrate never asked for the migration lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pgtest.MigrateTo(t, url, 0, future)
	if _, err := newer.Exec(t.Context(), `SELECT pg_advisory_unlock(1587609601)`); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var tooNew *store.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != future {
		t.Fatalf("Migrate after a newer skillsync migrated = %v, want a SchemaTooNewError naming %d", err, future)
	}
}

// TestSchemaStatusOnlyReads: the status of a database that no skillsync
// has migrated, then of one half migrated, without creating anything.
func TestSchemaStatusOnlyReads(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDB(t)
	st := open(t, url, store.Options{})
	status, err := st.SchemaStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	known := store.KnownSchemaVersion()
	if status.Initialized || status.Database != 0 || int64(len(status.Pending())) != known {
		t.Errorf("status of an empty database: %+v", status)
	}
	var behind *store.SchemaBehindError
	if err := st.CheckSchema(t.Context()); !errors.As(err, &behind) || behind.Initialized || !strings.Contains(err.Error(), "no skillsync tables") {
		t.Errorf("CheckSchema on an empty database = %v", err)
	}
	var tables int
	if err := connect(t, url).QueryRow(t.Context(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("reading the status created %d tables (%v)", tables, err)
	}

	pgtest.MigrateTo(t, url, 2, 0)
	status, err = st.SchemaStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if status.Database != 2 || status.Migrations[0].State != store.MigrationApplied || status.Migrations[0].AppliedAt == nil ||
		status.Migrations[0].File != "00001_initial.sql" || !slices.Equal(status.Pending(), versionsFrom(3, known)) {
		t.Errorf("status at version 2: %+v", status)
	}
	if err := st.CheckSchema(t.Context()); !errors.As(err, &behind) || !behind.Initialized ||
		!strings.Contains(err.Error(), "schema version 2") || !strings.Contains(err.Error(), "needs "+itoa(known)) {
		t.Errorf("CheckSchema at version 2 = %v", err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckSchema(t.Context()); err != nil {
		t.Errorf("CheckSchema after Migrate = %v", err)
	}
}

func versionsFrom(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestModeOutcomes: Mode.Outcomes, which metrics pre-initialise their
// series from, lists exactly the pairs the database accepts.
func TestModeOutcomes(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	all := []store.Outcome{store.OutcomeNoChanges, store.OutcomePlanned, store.OutcomeApplied, store.OutcomePartial,
		store.OutcomeRefused, store.OutcomeFailed, store.OutcomeInterrupted}
	for _, mode := range store.Modes() {
		for _, outcome := range all {
			run, err := st.BeginRun(t.Context(), store.TriggerManual, mode)
			if err != nil {
				t.Fatal(err)
			}
			run.Outcome = outcome
			err = st.FinishRun(t.Context(), run)
			if listed := slices.Contains(mode.Outcomes(), outcome); listed != (err == nil) {
				t.Errorf("%s run ending %s: listed %v, database says %v", mode, outcome, listed, err)
			}
		}
	}
}
