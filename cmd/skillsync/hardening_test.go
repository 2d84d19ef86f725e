package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store"
)

// panicOnce panics on the first LivePerson request it sees, as a bug in a
// run would.
type panicOnce struct {
	base  http.RoundTripper
	fired atomic.Bool
}

func (p *panicOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.fired.CompareAndSwap(false, true) {
		panic("injected bug")
	}
	return p.base.RoundTrip(r)
}

// TestTriggeredRunThatPanics: a run started by POST /v1/runs?wait=false
// that panics does not take the daemon down: it is recorded as failed, the
// run lock and the run slot are free again, and the next run works.
func TestTriggeredRunThatPanics(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.httpClient = &http.Client{Transport: &panicOnce{base: f.srv.Client().Transport}}
	d := f.startDaemon(&env{})

	if code, body, _ := d.do("POST", "/v1/runs?wait=false", testTriggerToken); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	res := d.nextRun()
	if res.Run.Outcome != store.OutcomeFailed || !strings.Contains(res.Run.Error, "panic: injected bug") || res.Run.FinishedAt == nil {
		t.Errorf("the run that panicked: %s %q", res.Run.Outcome, res.Run.Error)
	}
	if code, body, _ := d.do("GET", "/livez", ""); code != 200 {
		t.Fatalf("/livez after the panic: %d %s", code, body)
	}
	st, err := store.Open(context.Background(), f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	last, err := st.LastRun(context.Background())
	if err != nil || last.ID != res.Run.ID || last.Outcome != store.OutcomeFailed {
		t.Errorf("recorded: %+v, %v", last, err)
	}
	code, body, _ := d.do("POST", "/v1/runs", testTriggerToken)
	if code != 200 || !strings.Contains(body, `"outcome": "applied"`) {
		t.Errorf("the next run: %d %s", code, body)
	}
	d.nextRun()
	if !strings.Contains(d.stderr.String(), `"msg":"run panicked"`) {
		t.Errorf("the panic is not logged:\n%s", d.stderr.String())
	}
	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// TestReadyzHidesTheDatabase: /readyz, which anyone who reaches the port
// may ask, says the database is unreachable without naming its host,
// database or user; the log has them.
func TestReadyzHidesTheDatabase(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	st, err := store.Open(context.Background(), f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // a database that no longer answers
	var logs bytes.Buffer
	cfg := defaultConfig()
	d := newDaemon(&app{cfg: &cfg, store: st, metrics: newMetrics(), secrets: secret.NewSet(),
		log: slog.New(slog.NewTextHandler(&logs, nil))}, &env{})
	rec := httptest.NewRecorder()
	d.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
		t.Errorf("/readyz: %d %q", rec.Code, body)
	}
	for _, leak := range []string{"127.0.0.1", "postgres", "user", "database \""} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz names %q: %q", leak, body)
		}
	}
	if !strings.Contains(logs.String(), "readyz: database unreachable") || !strings.Contains(logs.String(), "ping postgres at") {
		t.Errorf("the log lacks the details:\n%s", logs.String())
	}
}
