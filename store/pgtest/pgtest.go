// Package pgtest gives tests a real PostgreSQL: DB gives each test a
// fresh, migrated database of its own, cloned from a migrated template, on
// the server named by SKILLSYNC_TEST_DATABASE_URL when it is set, else on
// one throwaway cluster (store/pgcluster) shared by the test binary.
// Packages using DB call Main from their TestMain so that the cluster is
// stopped and its files removed at the end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// It is a thin testing layer: the cluster itself lives in pgcluster, which
// does not import testing and which the demo uses. It may import testing,
// pgx, store (for the migrations) and pgcluster; only tests import it.
//
// In the house (README, Layout; e2e/layout_test.go), it imports store, store/pgcluster and migrations.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgcluster"
)

// Cluster, Options and Start are pgcluster's, for tests that run a
// cluster of their own (pausing the database, a soak's own server).
type (
	Cluster = pgcluster.Cluster
	Options = pgcluster.Options
)

// Start starts a throwaway cluster: see pgcluster.Start.
func Start(ctx context.Context, opts Options) (*Cluster, error) { return pgcluster.Start(ctx, opts) }

// EnvURL names the environment variable holding the URL of an existing
// PostgreSQL server for tests. Tests create (and drop) databases there, so
// its user needs CREATEDB.
const EnvURL = "SKILLSYNC_TEST_DATABASE_URL"

// server is the PostgreSQL the test binary's databases live on.
type server struct {
	cluster  *Cluster      // nil when EnvURL names the server
	base     *url.URL      // connection URL; the path is replaced per database
	admin    *pgxpool.Pool // creates and drops databases
	template string        // migrated database the test databases are cloned from
}

var (
	sharedOnce gosync.Once
	shared     *server
	sharedErr  error
	dbSeq      atomic.Int64
)

// Main runs the tests of a package that uses DB, then stops the shared
// cluster (or drops the template database on the EnvURL server), runs
// cleanups in reverse order and exits. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without it the cluster's server still exits with the test binary, but its
// temporary directory stays behind. Main does not return (os.Exit), so
// what TestMain set up for every test is removed by a cleanup, not a defer.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	for _, f := range slices.Backward(cleanups) {
		f()
	}
	os.Exit(code)
}

// DB returns the URL of a fresh database of the test's own, already migrated
// and empty, dropped when the test ends. It fails the test when no
// PostgreSQL is available.
func DB(t testing.TB) string {
	t.Helper()
	srv := mustServer(t)
	return srv.createDB(t, srv.template)
}

// EmptyDB is DB without the migrations: an empty database of the test's own,
// for tests of migrating itself.
func EmptyDB(t testing.TB) string {
	t.Helper()
	return mustServer(t).createDB(t, "template0")
}

func mustServer(t testing.TB) *server {
	t.Helper()
	srv, err := sharedServer()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return srv
}

// createDB clones template into a new database dropped at the end of the
// test, and returns its URL.
func (s *server) createDB(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("skillsync_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a test that leaked a connection must not fail the next.
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+
			pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.urlFor(name)
}

// sharedServer starts (once per test binary) the server and its migrated
// template database.
func sharedServer() (*server, error) {
	sharedOnce.Do(func() {
		shared, sharedErr = newServer(context.Background())
	})
	return shared, sharedErr
}

func newServer(ctx context.Context) (_ *server, err error) {
	srv := &server{}
	defer func() {
		if err != nil {
			srv.close(ctx)
		}
	}()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		srv.cluster, err = Start(ctx, Options{Database: "postgres"})
		if err != nil {
			return nil, fmt.Errorf("start throwaway cluster (or set %s): %w", EnvURL, err)
		}
		raw = srv.cluster.URL()
	}
	srv.base, err = url.Parse(raw)
	if err != nil || (srv.base.Scheme != "postgres" && srv.base.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	srv.admin, err = pgxpool.New(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}

	srv.template = fmt.Sprintf("skillsync_template_%d", os.Getpid())
	tmpl := pgx.Identifier{srv.template}.Sanitize()
	// A template left by a crashed run with the same pid would be stale.
	if _, err := srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+tmpl+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop stale template database: %w", err)
	}
	if _, err := srv.admin.Exec(ctx, "CREATE DATABASE "+tmpl); err != nil {
		return nil, fmt.Errorf("create template database (the user needs CREATEDB): %w", err)
	}
	st, err := store.Open(ctx, srv.urlFor(srv.template), store.Options{})
	if err != nil {
		return nil, err
	}
	// Close before cloning: CREATE DATABASE ... TEMPLATE needs the
	// template to have no sessions.
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

func (s *server) urlFor(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// close drops the template and stops the cluster.
func (s *server) close(ctx context.Context) error {
	var errs []error
	if s.admin != nil {
		if s.template != "" && s.cluster == nil {
			// On a throwaway cluster everything goes with the directory.
			_, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.template}.Sanitize()+" WITH (FORCE)")
			if err != nil && !strings.Contains(err.Error(), "does not exist") {
				errs = append(errs, fmt.Errorf("drop template database: %w", err))
			}
		}
		s.admin.Close()
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.Stop())
	}
	return errors.Join(errs...)
}

func shutdown() error {
	if shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return shared.close(ctx)
}
