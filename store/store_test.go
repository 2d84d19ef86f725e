package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/skillsync/skillsync/migrations"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup opens a Store on a fresh migrated database of the test's own.
func setup(t testing.TB) (*store.Store, string) {
	t.Helper()
	url := pgtest.DB(t)
	return open(t, url, store.Options{}), url
}

// testAccount is the LivePerson account of the stores tests open unless
// they name another.
const testAccount = "1000"

func open(t testing.TB, url string, opts store.Options) *store.Store {
	t.Helper()
	opts.Account = cmp.Or(opts.Account, testAccount)
	st, err := store.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		wantParts []string
	}{
		{
			name:      "unreachable",
			url:       "postgres://skill:s3cr3tpw@127.0.0.1:1/skilldb?sslmode=disable",
			wantParts: []string{"127.0.0.1", "skilldb", "connect to postgres"},
		},
		{
			name:      "unreachable key value",
			url:       "host=127.0.0.1 port=1 dbname=skilldb user=skill password=s3cr3tpw sslmode=disable",
			wantParts: []string{"127.0.0.1", "skilldb"},
		},
		{
			name:      "malformed port",
			url:       "postgres://skill:s3cr3tpw@127.0.0.1:notaport/skilldb",
			wantParts: []string{"database url is not valid"},
		},
		{
			name:      "malformed key value",
			url:       "host=127.0.0.1 dbname=skilldb password='s3cr3tpw",
			wantParts: []string{"database url is not valid"},
		},
		{
			name:      "malformed url",
			url:       "postgres://skill:s3cr3tpw@[::1/skilldb",
			wantParts: []string{"database url is not valid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.Context(), tt.url, store.Options{ConnectTimeout: 5 * time.Second})
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, "s3cr3tpw") {
				t.Errorf("error reveals the password: %s", msg)
			}
			for _, part := range tt.wantParts {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not mention %q", msg, part)
				}
			}
		})
	}
}

// TestOpenCancelled: the scrubbed error still unwraps, so a caller can tell
// a cancelled start-up from a broken database.
func TestOpenCancelled(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	st, err := store.Open(ctx, url, store.Options{})
	if err == nil {
		st.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	if err := st.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateConcurrently applies the migrations from two Stores (two pools,
// as two replicas starting at once) to an empty database.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDB(t)
	stores := []*store.Store{open(t, url, store.Options{}), open(t, url, store.Options{})}
	var wg gosync.WaitGroup
	errs := make([]error, len(stores))
	for i, st := range stores {
		wg.Go(func() { errs[i] = st.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate from store %d: %v", i, err)
		}
	}
	// And once more: nothing left to do.
	if err := stores[0].Migrate(t.Context()); err != nil {
		t.Errorf("third Migrate: %v", err)
	}

	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	var applied, distinct int
	if err := conn.QueryRow(t.Context(),
		`SELECT count(*), count(DISTINCT version_id) FROM skillsync_schema_version WHERE version_id > 0`,
	).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || distinct != len(files) {
		t.Errorf("schema version table has %d rows (%d versions), want each of the %d migrations once",
			applied, distinct, len(files))
	}
	var tables int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN
		('runs', 'run_operations', 'owned_skills', 'source_snapshots', 'pending_deletes')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 5 {
		t.Errorf("found %d of the 5 tables", tables)
	}
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestQueryTimeout holds a row lock from another session so that a store
// query blocks, and checks the query timeout ends it.
func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	st := open(t, url, store.Options{QueryTimeout: 200 * time.Millisecond})
	run, err := st.BeginRun(t.Context(), store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM runs WHERE id = $1 FOR UPDATE`, run.ID); err != nil {
		t.Fatal(err)
	}
	run.Outcome = store.OutcomeApplied
	err = st.FinishRun(t.Context(), run)
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(fmtErr(err), "timeout") {
		t.Fatalf("FinishRun on a locked row = %v, want a timeout", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestMigrationsDownAndUp: every migration can be rolled back and applied
// again, with data in the tables, and the data migrations go both ways.
func TestMigrationsDownAndUp(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDB(t)
	st := open(t, url, store.Options{})
	ctx := t.Context()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	run.Outcome = store.OutcomePlanned
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Sales"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSkillStates(ctx, map[int64]store.SkillState{1: {"name": json.RawMessage(`"Sales"`)}}); err != nil {
		t.Fatal(err)
	}

	opIDs, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create", SkillName: "Sales", RuleID: "dept", RuleKey: "dept|Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.JournalSet(ctx, []store.OpUpdate{{ID: opIDs[0], State: store.OpResolved, Error: "resolved by run 2: absent"}}); err != nil {
		t.Fatal(err)
	}

	conn := connect(t, url)
	db := stdlib.OpenDB(*conn.Config())
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithTableName("skillsync_schema_version"))
	if err != nil {
		t.Fatal(err)
	}
	// Before outcome planned, a dry run with changes was recorded as
	// applied; migrating up says what it really did.
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("roll back to version 2: %v", err)
	}
	// Before the state resolved, failed (with the note) said it best.
	var state, note string
	if err := conn.QueryRow(ctx, `SELECT state, error FROM run_operations WHERE id = $1`, opIDs[0]).Scan(&state, &note); err != nil ||
		state != "failed" || note != "resolved by run 2: absent" {
		t.Errorf("resolved operation at version 2 = %q %q, %v; want failed with its note", state, note, err)
	}
	var outcome string
	if err := conn.QueryRow(ctx, `SELECT outcome FROM runs WHERE id = $1`, run.ID).Scan(&outcome); err != nil || outcome != "applied" {
		t.Errorf("planned dry run at version 2 = %q, %v; want applied", outcome, err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("roll back to the initial schema: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	// Rows from before accounts belong to none until one takes them.
	if got, _, err := st.GetRun(ctx, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a run from before accounts, before it is claimed = %+v, %v; want not found", got, err)
	}
	if moved, err := st.ClaimLegacyState(ctx, testAccount); err != nil || moved.Runs != 1 || moved.OwnedSkills != 1 {
		t.Errorf("ClaimLegacyState = %+v, %v; want the run and the skill", moved, err)
	}
	if got, _, err := st.GetRun(ctx, run.ID); err != nil || got.Outcome != store.OutcomePlanned {
		t.Errorf("dry run after migrating up = %s, %v; want planned", got.Outcome, err)
	}
	if owned, err := st.OwnedSkills(ctx); err != nil || len(owned) != 1 {
		t.Errorf("after down and up OwnedSkills = %+v, %v", owned, err)
	}
	if states, err := st.SkillStates(ctx); err != nil || len(states) != 0 {
		t.Errorf("after down and up SkillStates = %s, %v; want none (the column was dropped)", fmtStates(states), err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("roll back everything: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate an emptied database: %v", err)
	}
}

// TestMinConns: a pool with Options.MinConns opens that many sessions
// without being asked for them, and keeps them while idle; without it,
// sessions open as queries need them.
func TestMinConns(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	mon := connect(t, url)
	sessions := func() int {
		var n int
		if err := mon.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	lazy := open(t, url, store.Options{MaxConns: 8})
	if n := sessions(); n != 1 {
		t.Fatalf("%d sessions after Open without MinConns, want the one its check used", n)
	}
	lazy.Close()
	open(t, url, store.Options{MaxConns: 8, MinConns: 5})
	deadline := time.Now().Add(30 * time.Second)
	for sessions() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions 30 s after Open with MinConns 5", sessions())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
