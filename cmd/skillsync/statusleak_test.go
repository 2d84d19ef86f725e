package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store"
)

// TestStatusHidesTheDatabase: /status, like /readyz, is open to anyone who
// reaches the port: when the database refuses it, the answer says so
// without naming the database's host, name or user; the log has them.
func TestStatusHidesTheDatabase(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The database stops taking connections, and those open end (as
	// from another database: one cannot refuse its own).
	acfg, err := pgx.ParseConfig(f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := acfg.Database
	acfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, acfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE "`+dbName+`" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := admin.Exec(context.Background(), `ALTER DATABASE "`+dbName+`" ALLOW_CONNECTIONS true`); err != nil {
			t.Error(err)
		}
		admin.Close(context.Background())
	}()
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1`, dbName); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	cfg := defaultConfig()
	d := newDaemon(&app{cfg: &cfg, store: st, metrics: newMetrics(), secrets: secret.NewSet(),
		log: slog.New(slog.NewTextHandler(&logs, nil))}, &env{})
	d.cron = cron.New()
	// The first request may meet a connection the server ended; the
	// next ones try new connections, which the database refuses.
	for range 3 {
		rec := httptest.NewRecorder()
		d.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("/status: %d %q, want 500", rec.Code, body)
		}
		for _, leak := range []string{"127.0.0.1", "postgres", "user=", dbName} {
			if strings.Contains(body, leak) {
				t.Errorf("/status names %q: %q", leak, body)
			}
		}
	}
	if !strings.Contains(logs.String(), dbName) {
		t.Errorf("the log lacks the details:\n%s", logs.String())
	}
}
