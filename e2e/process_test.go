package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store/pgtest"
)

// TestKillDuringApply kills `skillsync sync` with SIGKILL in the middle of
// a 500-create apply, at the two moments that matter, then runs it again:
// the first run must show as interrupted with its journal, the second must
// converge with no duplicate skill and no unowned skill touched. The
// journal (creates left sent) is what tells the next run that skills it
// finds may be its own.
func TestKillDuringApply(t *testing.T) {
	t.Parallel()
	const killAt = 10 // the create batch in flight at the kill
	tests := []struct {
		name string
		// applied says whether LivePerson applies the batch in flight
		// before the kill: then the skills exist and nothing of ours
		// knows their ids, the hardest moment. Otherwise the batch is
		// journaled sent and never reaches LivePerson.
		applied bool
	}{
		{name: "a create sent, not yet received by LivePerson"},
		{name: "a create applied, before its answer", applied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := staff(500, 1, 1)
			f := setup(t, options{people: ps})
			keep := seedUnowned(f.sim, "Hand made", "Escalations", "Dept 00 / Team 9999")
			f.sim.SetLatency(10 * time.Millisecond)

			var p *proc
			var mu gosync.Mutex
			posts := 0
			started := make(chan struct{})
			f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == http.MethodPost && r.URL.Path == skillsPath {
					mu.Lock()
					posts++
					n := posts
					mu.Unlock()
					if n == killAt {
						<-started
						if tc.applied {
							next.ServeHTTP(httptest.NewRecorder(), r) // applied, answer kept
						}
						p.kill()
						panic(http.ErrAbortHandler) // and the connection dropped
					}
				}
				next.ServeHTTP(w, r)
			})
			p = f.start("sync")
			close(started)
			select {
			case <-p.done:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the sync was not killed at its create batch %d\n%s", killAt, p.stderr.String())
			}
			f.lp.Intercept(nil)
			f.sim.SetLatency(0)
			want := (killAt - 1) * 10
			if tc.applied {
				want += 10
			}
			if created := len(f.sim.Skills(false)) - len(keep); created != want {
				t.Fatalf("%d skills created before the kill, want %d (exit %d)\n%s", created, want, p.code, p.stderr.String())
			}

			runs := f.runs()
			if len(runs) != 1 {
				t.Fatalf("runs after the kill: %+v", runs)
			}
			killed := runs[0]
			if killed.Outcome != "running" && killed.Outcome != "interrupted" {
				t.Errorf("the killed run shows as %q in 'runs --format json'", killed.Outcome)
			}
			d := f.runShow(killed.ID)
			done, sent := 0, 0
			for _, op := range d.Operations {
				switch op.State {
				case "done":
					done++
				case "sent":
					sent++
				}
			}
			if done != (killAt-1)*10 || sent != 10 || len(d.Operations) > 500 {
				t.Errorf("journal of the killed run: %d operations, %d done, %d sent; want %d done and the 10 of the batch in flight sent",
					len(d.Operations), done, sent, (killAt-1)*10)
			}

			second := f.mustRun(exitOK, "sync")
			runs = f.runs()
			if killed := runs[0]; killed.Outcome != "interrupted" || killed.FinishedAt == nil {
				t.Errorf("after the next sync, the killed run is %q (finished %v), want interrupted", killed.Outcome, killed.FinishedAt)
			}
			if last := runs[len(runs)-1]; last.Outcome != "applied" {
				t.Errorf("the second sync: %+v\n%s", last, second)
			}
			f.checkConverged(ps, keep)
		})
	}
}

// TestDaemonSurvivesPostgresOutage stops PostgreSQL while the daemon is in
// a run: the run fails clearly, the daemon keeps serving, and once
// PostgreSQL is back a scheduled run succeeds.
func TestDaemonSurvivesPostgresOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil && os.Getenv(pgtest.EnvURL) != "" {
		// The suite was pointed at an existing server, which we may not
		// stop: this test needs a throwaway cluster (initdb) of its own.
		t.Skipf("needs a PostgreSQL of its own to stop and start: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })

	ps := staff(20, 2, 1)
	f := setup(t, options{people: ps, dbURL: cluster.URL(), extra: "run_at_start: true\n"})
	f.setSchedule("@every 1s")

	// The run after the first is held in its skills read until PostgreSQL
	// is down.
	var mu gosync.Mutex
	gets := 0
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce gosync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // a failed test must not leave the request held: lpsim's Close waits for it
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && r.URL.Path == skillsPath {
			mu.Lock()
			gets++
			n := gets
			mu.Unlock()
			if n == 2 {
				close(held)
				<-release
			}
		}
		next.ServeHTTP(w, r)
	})
	d := f.start("run")
	addr := d.addr()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(resp))
		return resp.StatusCode, b.String()
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatalf("the second run did not start\n%s", d.stderr.String())
	}
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("/readyz before the outage: %d %s", code, body)
	}

	if err := cluster.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	// Each scheduled run ends with "next run scheduled": count runs by it.
	failuresBefore := len(errorLines(d))
	dueBefore := len(d.logged("next run scheduled"))
	free()
	f.waitUntil(time.Minute, "the held run ends", func() bool {
		return len(d.logged("next run scheduled")) > dueBefore
	})
	if len(errorLines(d)) == failuresBefore {
		t.Errorf("the run that lost PostgreSQL logged no error:\n%s", d.stderr.String())
	}
	// The scheduled runs during the outage cannot even take the run lock:
	// each must say so, not fail silently.
	skippedBefore := len(d.logged("run skipped: another run is in progress"))
	logsBefore := len(d.logLines())
	failuresBefore = len(errorLines(d))
	dueBefore = len(d.logged("next run scheduled"))
	f.waitUntil(time.Minute, "two more scheduled runs are done", func() bool {
		return len(d.logged("next run scheduled")) >= dueBefore+2
	})
	var outage []string
	for _, l := range d.logLines()[logsBefore:] {
		outage = append(outage, fmt.Sprint(l))
	}
	if n := len(errorLines(d)) - failuresBefore; n < 2 {
		t.Errorf("%d error lines for two scheduled runs with PostgreSQL down, want one per run; log:\n%s",
			n, strings.Join(outage, "\n"))
	}
	if len(d.logged("run skipped: another run is in progress")) > skippedBefore {
		t.Errorf("runs failing to reach PostgreSQL are logged as skipped because another run is in progress:\n%s", strings.Join(outage, "\n"))
	}
	if code, _ := get("/livez"); code != 200 {
		t.Errorf("/livez during the outage: %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "database") {
		t.Errorf("/readyz during the outage: %d %s", code, body)
	}
	if d.exited() {
		t.Fatalf("the daemon exited during the outage (%d)\n%s", d.code, d.stderr.String())
	}

	restart := time.Now()
	if err := cluster.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitUntil(time.Minute, "a run succeeds after PostgreSQL is back", func() bool {
		code, body := get("/status")
		if code != 200 {
			return false
		}
		var st struct {
			LastSuccess *time.Time `json:"last_success"`
		}
		return json.Unmarshal([]byte(body), &st) == nil && st.LastSuccess != nil && st.LastSuccess.After(restart)
	})
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz after the outage: %d %s", code, body)
	}
	if code := d.stop(time.Minute); code != 0 {
		t.Errorf("the daemon exited %d after SIGTERM", code)
	}
	f.lp.Intercept(nil)
	runs := f.runs()
	for _, r := range runs {
		if r.Outcome == "running" {
			t.Errorf("run %d is still recorded as running after the daemon stopped: %+v", r.ID, r)
		}
	}
	f.checkConverged(ps, nil)
}

// setSchedule rewrites the configuration's schedule.
func (f *fixture) setSchedule(spec string) {
	f.t.Helper()
	b, err := os.ReadFile(f.cfgPath)
	if err != nil {
		f.t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `schedule: "@every 1h"`, fmt.Sprintf("schedule: %q", spec), 1))
	if err := os.WriteFile(f.cfgPath, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// errorLines are the daemon's log lines at level ERROR.
func errorLines(p *proc) []map[string]any {
	var out []map[string]any
	for _, l := range p.logLines() {
		if l["level"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}

// TestDaemonSIGTERMDuringApply sends the daemon SIGTERM while a create
// batch of a 500-create apply is in flight, and answers that batch only
// once the daemon has logged that it is shutting down: it must finish that
// batch, start no other, record the run as interrupted and exit 0; the
// next sync converges.
func TestDaemonSIGTERMDuringApply(t *testing.T) {
	t.Parallel()
	const termAt = 10 // the create batch in flight at SIGTERM
	ps := staff(500, 1, 1)
	f := setup(t, options{people: ps, extra: "run_at_start: true\nshutdown_timeout: 30s\n"})
	keep := seedUnowned(f.sim, "Hand made")
	f.sim.SetLatency(10 * time.Millisecond)

	var d *proc
	var mu gosync.Mutex
	posts := 0
	shuttingDown := false // logged before the batch in flight was answered
	started := make(chan struct{})
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost && r.URL.Path == skillsPath {
			mu.Lock()
			posts++
			n := posts
			mu.Unlock()
			if n == termAt {
				<-started
				_ = d.cmd.Process.Signal(syscall.SIGTERM)
				logged := f.events.await(time.Minute, func() bool {
					return len(d.logged("shutting down: no new runs will start")) > 0
				})
				mu.Lock()
				shuttingDown = logged
				mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
	d = f.start("run")
	close(started)
	select {
	case <-d.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the daemon did not exit after SIGTERM\n%s", d.stderr.String())
	}
	f.lp.Intercept(nil)
	f.sim.SetLatency(0)
	if d.code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", d.code, d.stderr.String())
	}
	mu.Lock()
	if !shuttingDown {
		t.Errorf("the daemon did not log that it is shutting down while its create batch %d was in flight\n%s", termAt, d.stderr.String())
	}
	mu.Unlock()
	if n := len(f.sim.Skills(false)) - len(keep); n != termAt*10 {
		t.Fatalf("%d skills after SIGTERM during create batch %d, want the %d of the batches sent until then", n, termAt, termAt*10)
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].Outcome != "interrupted" || runs[0].FinishedAt == nil {
		t.Fatalf("runs after SIGTERM: %+v", runs)
	}
	done := 0
	for _, op := range f.runShow(runs[0].ID).Operations {
		switch op.State {
		case "sent":
			t.Errorf("operation %+v left sent: the batch in flight was not finished", op)
		case "done":
			done++
		}
	}
	if done != termAt*10 {
		t.Errorf("%d operations journaled done, want the %d creates LivePerson applied", done, termAt*10)
	}
	f.mustRun(exitOK, "sync")
	f.checkConverged(ps, keep)
}

// TestDaemonSIGTERMPastShutdownTimeout holds a create batch of the
// daemon's run past shutdown_timeout after SIGTERM: the daemon must record
// the run as interrupted itself and exit 0 without the batch's answer
// (which would otherwise leave the run `running` until the next start).
// LivePerson then applies the batch, answering no one: the next sync takes
// those skills over from the journal (no duplicate) and converges.
func TestDaemonSIGTERMPastShutdownTimeout(t *testing.T) {
	t.Parallel()
	const holdAt = 3 // the create batch held past the timeout
	ps := staff(100, 1, 1)
	f := setup(t, options{people: ps, extra: "run_at_start: true\nshutdown_timeout: 2s\n"})
	keep := seedUnowned(f.sim, "Hand made")

	var d *proc
	var mu gosync.Mutex
	posts := 0
	started, release := make(chan struct{}), make(chan struct{})
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost && r.URL.Path == skillsPath {
			mu.Lock()
			posts++
			n := posts
			mu.Unlock()
			if n == holdAt {
				<-started
				_ = d.cmd.Process.Signal(syscall.SIGTERM)
				<-release // until the daemon is gone
			}
		}
		next.ServeHTTP(w, r)
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	d = f.start("run")
	close(started)
	select {
	case <-d.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the daemon did not exit after SIGTERM with a batch held past shutdown_timeout\n%s", d.stderr.String())
	}
	if d.code != 0 {
		t.Errorf("exit %d, want 0\n%s", d.code, d.stderr.String())
	}
	if len(d.logged("the run did not stop within shutdown_timeout: recorded as interrupted, exiting without it")) == 0 {
		t.Errorf("the daemon did not log that it recorded the run\n%s", d.stderr.String())
	}
	close(release) // LivePerson applies the batch; its answer goes nowhere
	f.lp.Intercept(nil)

	runs := f.runs()
	if len(runs) != 1 || runs[0].Outcome != "interrupted" || runs[0].FinishedAt == nil || !strings.Contains(runs[0].Error, "shutdown_timeout") {
		t.Fatalf("runs after the timeout: %+v", runs)
	}
	states := map[string]int{}
	for _, op := range f.runShow(runs[0].ID).Operations {
		states[op.State]++
	}
	if states["done"] != (holdAt-1)*10 || states["sent"] != 10 {
		t.Errorf("journal of the interrupted run: %v, want %d done and the 10 of the held batch sent", states, (holdAt-1)*10)
	}

	f.mustRun(exitOK, "sync")
	f.checkConverged(ps, keep)
	states = map[string]int{}
	for _, op := range f.runShow(runs[0].ID).Operations {
		states[op.State]++
	}
	if states["resolved"] != 10 {
		t.Errorf("journal of the interrupted run after the next sync: %v, want the 10 sent creates resolved", states)
	}
}
