package pgtest

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/skillsync/skillsync/migrations"
)

// MigrateTo migrates the database at url with goose, as store.Migrate
// does, to version, taken from skillsync's migrations plus, when future
// is above every version they hold, a migration numbered future that
// creates a table named future_<future>: the database then looks as if a
// newer skillsync had migrated it. version 0 means all of them.
func MigrateTo(t testing.TB, url string, version, future int64) {
	t.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		fsys[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: read migrations: %v", err)
	}
	if future > 0 {
		fsys[fmt.Sprintf("%05d_future.sql", future)] = &fstest.MapFile{Data: fmt.Appendf(nil,
			"-- +goose Up\nCREATE TABLE future_%d (id int);\n\n-- +goose Down\nDROP TABLE future_%d;\n", future, future)}
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	// The table name is store's (skillsync_schema_version).
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithTableName("skillsync_schema_version"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		t.Fatalf("pgtest: migrate %s to %d: %v", url, version, err)
	}
}
