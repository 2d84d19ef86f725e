package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"

	"github.com/skillsync/skillsync/migrations"
)

// MigrationState says where one migration stands in a database.
type MigrationState string

// Migration states.
const (
	// MigrationApplied: this build knows the migration and the database has it.
	MigrationApplied MigrationState = "applied"
	// MigrationPending: this build knows the migration; the database lacks it.
	MigrationPending MigrationState = "pending"
	// MigrationUnknown: the database has a migration this build does not
	// know (a newer skillsync applied it).
	MigrationUnknown MigrationState = "unknown"
)

// Migration is one schema migration as a database and this build see it.
type Migration struct {
	Version int64
	// File is the migration's file name, empty when this build does not
	// know the migration.
	File  string
	State MigrationState
	// AppliedAt is when the database recorded it; nil while pending.
	AppliedAt *time.Time
}

// SchemaStatus is a database's schema against the migrations this build
// embeds.
type SchemaStatus struct {
	// Where names the database (host, port, database, user; never the
	// password).
	Where string
	// Initialized is false when the database has no migration table: no
	// skillsync has migrated it.
	Initialized bool
	// Database is the highest migration version the database has (0: none).
	Database int64
	// Known is the highest migration version this build embeds.
	Known int64
	// Migrations lists every migration either side knows, by version.
	Migrations []Migration
}

// Pending lists the versions this build would apply.
func (s SchemaStatus) Pending() []int64 {
	return s.versions(MigrationPending)
}

// Unknown lists the versions the database has and this build does not know.
func (s SchemaStatus) Unknown() []int64 {
	return s.versions(MigrationUnknown)
}

func (s SchemaStatus) versions(state MigrationState) []int64 {
	var out []int64
	for _, m := range s.Migrations {
		if m.State == state {
			out = append(out, m.Version)
		}
	}
	return out
}

// Err says whether this build can work on the database as it is: nil when
// every migration it knows is applied and none it does not know is; a
// *SchemaTooNewError when a newer build has migrated it; a
// *SchemaBehindError when migrations are pending.
func (s SchemaStatus) Err() error {
	if unknown := s.Unknown(); len(unknown) > 0 {
		return &SchemaTooNewError{Where: s.Where, Database: s.Database, Known: s.Known, Unknown: unknown}
	}
	if pending := s.Pending(); len(pending) > 0 {
		return &SchemaBehindError{Where: s.Where, Database: s.Database, Known: s.Known, Pending: pending, Initialized: s.Initialized}
	}
	return nil
}

// SchemaTooNewError is the refusal to work on a database that a newer
// build of skillsync has migrated: this build's queries may no longer fit
// its tables, and it never rolls a schema back.
type SchemaTooNewError struct {
	Where    string
	Database int64   // the database's schema version
	Known    int64   // the newest version this build knows
	Unknown  []int64 // the versions the database has and this build lacks
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database (postgres at %s) has schema version %d, newer than this build of skillsync knows (%d): "+
		"a newer skillsync has migrated it (migrations this build lacks: %v)", e.Where, e.Database, e.Known, e.Unknown)
}

// SchemaBehindError says that the database lacks migrations this build
// needs (a read-only use of the store does not apply them).
type SchemaBehindError struct {
	Where       string
	Database    int64   // the database's schema version
	Known       int64   // the version this build needs
	Pending     []int64 // the migrations it lacks
	Initialized bool    // false: no skillsync has migrated the database
}

func (e *SchemaBehindError) Error() string {
	if !e.Initialized {
		return fmt.Sprintf("the database (postgres at %s) has no skillsync tables yet (schema version 0; this build needs %d)", e.Where, e.Known)
	}
	return fmt.Sprintf("the database (postgres at %s) has schema version %d; this build of skillsync needs %d (migrations %v pending)",
		e.Where, e.Database, e.Known, e.Pending)
}

// knownMigrations lists the migrations embedded in this build, pending.
func knownMigrations() ([]Migration, error) {
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		v, err := goose.NumericComponent(f)
		if err != nil {
			return nil, fmt.Errorf("embedded migration %s: %w", f, err)
		}
		out = append(out, Migration{Version: v, File: f, State: MigrationPending})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// KnownSchemaVersion is the highest migration version this build embeds.
func KnownSchemaVersion() int64 {
	ms, err := knownMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// SchemaStatus reads the database's migration table and compares it with
// the migrations this build embeds. It only reads: a database no skillsync
// has migrated is left without a migration table.
func (s *Store) SchemaStatus(ctx context.Context) (SchemaStatus, error) {
	st := SchemaStatus{Where: s.where}
	known, err := knownMigrations()
	if err != nil {
		return st, err
	}
	st.Migrations = known
	if len(known) > 0 {
		st.Known = known[len(known)-1].Version
	}

	ctx, cancel := s.timeout(ctx)
	defer cancel()
	// One round trip (every run asks, before it writes): the versions
	// applied and, for each, when its latest row was recorded. That is
	// what goose's version store tells in 2 + one query per version
	// (ListMigrations, then GetMigration of each applied one). A database
	// no skillsync has migrated has no such table: the query fails with
	// undefined_table, and nothing is created.
	rows, _ := s.pool.Query(ctx, `SELECT version_id, (array_agg(tstamp ORDER BY tstamp DESC))[1]
		FROM `+migrationTable+` WHERE version_id >= 1
		GROUP BY version_id HAVING bool_or(is_applied) ORDER BY version_id`)
	type applied struct {
		version int64
		at      time.Time
	}
	versions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (applied, error) {
		var a applied
		err := row.Scan(&a.version, &a.at)
		return a, err
	})
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read schema version of postgres at %s: %w", s.where, err)
	}
	st.Initialized = true
	for _, v := range versions {
		at := v.at
		st.Database = max(st.Database, v.version)
		i, found := slices.BinarySearchFunc(st.Migrations, v.version, func(m Migration, v int64) int { return cmp.Compare(m.Version, v) })
		if found {
			st.Migrations[i].State, st.Migrations[i].AppliedAt = MigrationApplied, &at
		} else {
			st.Migrations = slices.Insert(st.Migrations, i, Migration{Version: v.version, State: MigrationUnknown, AppliedAt: &at})
		}
	}
	return st, nil
}

// CheckSchema returns nil when the database's schema is exactly the one
// this build knows, a *SchemaTooNewError when a newer skillsync migrated it
// and a *SchemaBehindError when migrations are pending. It never migrates:
// read-only commands use it instead of Migrate.
func (s *Store) CheckSchema(ctx context.Context) error {
	st, err := s.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	return st.Err()
}
