package pgtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/store/pgtest"
)

// cleanupMarkEnv names a file the cleanups given to Main append to, for
// TestMainCleanups.
const cleanupMarkEnv = "PGTEST_CLEANUP_MARK"

func TestMain(m *testing.M) {
	mark := func(s string) func() {
		return func() {
			path := os.Getenv(cleanupMarkEnv)
			if path == "" {
				return
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				panic(err)
			}
			defer f.Close()
			fmt.Fprint(f, s)
		}
	}
	pgtest.Main(m, mark("first "), mark("second "))
}

// TestMainCleanups runs the test binary again and checks that Main ran the
// cleanups, last first, after the tests.
func TestMainCleanups(t *testing.T) {
	t.Parallel()
	if os.Getenv(cleanupMarkEnv) != "" {
		t.Skip("the child run")
	}
	path := filepath.Join(t.TempDir(), "mark")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMainCleanups$", "-test.count=1")
	cmd.Env = append(os.Environ(), cleanupMarkEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child test binary: %v\n%s", err, out)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the cleanups did not run: %v", err)
	}
	if string(got) != "second first " {
		t.Errorf("cleanups ran as %q, want %q", got, "second first ")
	}
}

// TestDB checks that every test gets its own migrated, empty database.
func TestDB(t *testing.T) {
	t.Parallel()
	urls := make(map[string]bool)
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			u := pgtest.DB(t)
			if urls[u] {
				t.Fatalf("DB returned %s twice", u)
			}
			urls[u] = true
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var n int
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM runs").Scan(&n); err != nil {
				t.Fatalf("migrated schema missing: %v", err)
			}
			if n != 0 {
				t.Fatalf("runs has %d rows, want an empty database", n)
			}
			// Writes stay in this test's database.
			if _, err := conn.Exec(t.Context(), "INSERT INTO runs (account_id, trigger, mode) VALUES ('1', 'manual', 'plan')"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEnvURL runs TestDB in a child test binary pointed at a server by
// EnvURL, and checks that it used that server and left no database behind.
func TestEnvURL(t *testing.T) {
	t.Parallel()
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("already running against " + pgtest.EnvURL)
	}
	c, err := pgtest.Start(t.Context(), pgtest.Options{
		Database: "postgres",
		Settings: map[string]string{"log_statement": "ddl", "log_min_messages": "info"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDB$", "-test.count=1")
	cmd.Env = append(os.Environ(), pgtest.EnvURL+"="+c.URL())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TestDB against %s: %v\n%s", pgtest.EnvURL, err, out)
	}

	log, err := os.ReadFile(filepath.Join(c.Dir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "CREATE DATABASE") {
		t.Errorf("the server's log shows no CREATE DATABASE: the child did not use %s\n%s", pgtest.EnvURL, log)
	}
	conn, err := pgx.Connect(t.Context(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), `SELECT datname FROM pg_database WHERE datname LIKE 'skillsync%'`)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("databases left behind on the %s server: %v", pgtest.EnvURL, left)
	}
}
