package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/store/pgtest"
)

// TestKillDuringApply kills `skillsync sync` with SIGKILL in the middle of
// a 500-create apply, then runs it again: the first run must show as
// interrupted with its journal, the second must converge with no duplicate
// skill and no unowned skill touched. The skills of the batch in flight
// may exist in LivePerson with nothing of ours knowing their ids; the
// journal (creates left sent) is what tells the next run they are ours.
func TestKillDuringApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// inWindow kills the process after LivePerson applied a create and
		// before the answer reaches it: the hardest moment, when the skill
		// exists and nothing of ours knows its id. Otherwise the test kills
		// the process from outside once some creates are done.
		inWindow bool
	}{
		{name: "between requests"},
		{name: "after a create was applied, before its answer", inWindow: true},
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
			const killAt = 10 // the 10th create batch
			if tc.inWindow {
				started := make(chan struct{})
				f.lp.setHook(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
					if r.Method == http.MethodPost && r.URL.Path == skillsPath {
						mu.Lock()
						posts++
						n := posts
						mu.Unlock()
						if n == killAt {
							<-started
							next.ServeHTTP(httptest.NewRecorder(), r) // applied, answer kept
							p.kill()
							panic(http.ErrAbortHandler) // and the connection dropped
						}
					}
					next.ServeHTTP(w, r)
				})
				p = f.start("sync")
				close(started)
			} else {
				p = f.start("sync")
				eventually(t, time.Minute, "some create batches are done", func() bool {
					return f.sim.Count(http.MethodPost, skillsPath) >= killAt || p.exited()
				})
				p.kill()
			}
			<-p.done
			f.lp.setHook(nil)
			f.sim.SetLatency(0)
			created := len(f.sim.Skills(false)) - len(keep)
			if created < (killAt-1)*10 || created >= 500 {
				t.Fatalf("%d skills created before the kill, want some but not all (exit %d)\n%s", created, p.code, p.stderr.String())
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
			if done < (killAt-1)*10 || len(d.Operations) > 500 {
				t.Errorf("journal of the killed run: %d operations, %d done, %d sent", len(d.Operations), done, sent)
			}
			if tc.inWindow && sent != 10 {
				t.Errorf("journal of the killed run: %d operations left sent, want the 10 of the batch in flight", sent)
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
	f.lp.setHook(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
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

	pg := stopPostgres(t, cluster)
	failuresBefore := len(errorLines(d))
	close(release)
	eventually(t, time.Minute, "the daemon logs the failed run", func() bool {
		return len(errorLines(d)) > failuresBefore
	})
	// The scheduled runs during the outage cannot even take the run lock:
	// each must say so, not fail silently.
	skippedBefore := len(d.logged("run skipped: another run is in progress"))
	logsBefore := len(d.logLines())
	dueBefore := len(d.logged("next run scheduled"))
	eventually(t, time.Minute, "two more scheduled runs are done", func() bool {
		return len(d.logged("next run scheduled")) >= dueBefore+2
	})
	var outage []string
	for _, l := range d.logLines()[logsBefore:] {
		outage = append(outage, fmt.Sprint(l))
	}
	if n := len(errorLines(d)) - failuresBefore; n < 3 {
		t.Errorf("%d error lines for the first and two more scheduled runs with PostgreSQL down, want one per run; log:\n%s",
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
	pg.start(t)
	eventually(t, time.Minute, "a run succeeds after PostgreSQL is back", func() bool {
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
	f.lp.setHook(nil)
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

// postgres is a stopped server of a pgtest cluster, to start again on the
// same data and port.
type postgres struct {
	cluster *pgtest.Cluster
	argv    []string
}

// stopPostgres shuts the cluster's server down (fast shutdown: sessions
// are ended, new connections refused) and keeps its data.
func stopPostgres(t *testing.T, c *pgtest.Cluster) *postgres {
	t.Helper()
	data := filepath.Join(c.Dir(), "data")
	opts, err := os.ReadFile(filepath.Join(data, "postmaster.opts"))
	if err != nil {
		t.Fatal(err)
	}
	argv := splitOpts(strings.TrimSpace(string(opts)))
	pidFile, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "PostgreSQL has stopped", func() bool {
		_, err := os.Stat(filepath.Join(data, "postmaster.pid"))
		return errors.Is(err, os.ErrNotExist)
	})
	return &postgres{cluster: c, argv: argv}
}

// splitOpts splits postmaster.opts: the binary, then "quoted" arguments.
func splitOpts(s string) []string {
	bin, rest, _ := strings.Cut(s, " ")
	out := []string{bin}
	for _, a := range strings.Split(rest, `" "`) {
		out = append(out, strings.Trim(a, `"`))
	}
	return out
}

// start runs the server again with its original arguments, as the same
// user, and stops it when the test ends.
func (pg *postgres) start(t *testing.T) {
	t.Helper()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	logFile, err := os.OpenFile(filepath.Join(pg.cluster.Dir(), "server-restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(pg.argv[0], pg.argv[1:]...)
	cmd.Dir = pg.cluster.Dir()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	// The parent-death signal follows the thread that started the child:
	// start and wait on one locked thread.
	started, done := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("restart postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-done
	})
	eventually(t, time.Minute, "PostgreSQL accepts connections again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.cluster.URL())
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	})
}

// TestDaemonSIGTERMDuringApply stops the daemon with SIGTERM in the middle
// of a 500-create apply: it finishes the batch it is sending, records the
// run as interrupted, exits 0, and the next sync converges.
func TestDaemonSIGTERMDuringApply(t *testing.T) {
	t.Parallel()
	ps := staff(500, 1, 1)
	f := setup(t, options{people: ps, extra: "run_at_start: true\nshutdown_timeout: 30s\n"})
	keep := seedUnowned(f.sim, "Hand made")
	f.sim.SetLatency(10 * time.Millisecond)
	d := f.start("run")
	d.addr()
	eventually(t, time.Minute, "some create batches are done", func() bool {
		return f.sim.Count(http.MethodPost, skillsPath) >= 10 || d.exited()
	})
	if code := d.stop(time.Minute); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, d.stderr.String())
	}
	f.sim.SetLatency(0)
	if n := len(f.sim.Skills(false)) - len(keep); n >= 500 {
		t.Fatalf("the run was not stopped midway: %d skills", n)
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].Outcome != "interrupted" || runs[0].FinishedAt == nil {
		t.Fatalf("runs after SIGTERM: %+v", runs)
	}
	for _, op := range f.runShow(runs[0].ID).Operations {
		if op.State == "sent" {
			t.Errorf("operation %+v left sent: the batch in flight was not finished", op)
		}
	}
	f.mustRun(exitOK, "sync")
	f.checkConverged(ps, keep)
}
