package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// accountsFleet is an installation with several LivePerson accounts, each
// on a simulator of its own, sharing the fixture's database and HR file.
type accountsFleet struct {
	*fixture
	sims []*lpsim.Sim
}

// accountID is the LivePerson id of the fleet's account i.
func accountID(i int) string { return fmt.Sprintf("%d", 70000001+i) }

// setupAccounts builds n accounts (a01, a02, ...) answering after latency;
// bad lists accounts whose configured secret is wrong (401); extra is
// appended to the configuration.
func setupAccounts(t testing.TB, n int, people []person, latency time.Duration, bad map[int]bool, extra string) *accountsFleet {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%saccounts:\n", extra)
	fl := &accountsFleet{}
	var urls []string
	for i := range n {
		sim := lpsim.New(lpsim.Options{AccountID: accountID(i), ClientID: clientID, ClientSecret: secret, Latency: latency})
		srv := lpsim.Serve(sim)
		t.Cleanup(srv.Close)
		fl.sims = append(fl.sims, sim)
		urls = append(urls, srv.URL())
	}
	for i := range n {
		sec := `"${LP_SECRET}"`
		if bad[i] {
			sec = `"not-the-secret-0123456789"`
		}
		fmt.Fprintf(&b, `  - name: a%02d
    liveperson:
      account_id: %q
      domain_api_url: %s
      batch_size: 50
      retry_delays: [50ms, 100ms, 150ms]
      auth: {method: oauth2, client_id: %s, client_secret: %s}
`, i+1, accountID(i), urls[i], clientID, sec)
	}
	// The fixture's own simulator serves the top-level liveperson block,
	// which no account uses; its certificate is the one every lpsim has.
	fl.fixture = setup(t, options{people: people, extra: b.String()})
	if strings.Contains(extra, "schedule:") {
		// extra's schedule replaces the fixture's.
		raw, err := os.ReadFile(fl.cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		raw = []byte(strings.Replace(string(raw), "schedule: \"@every 1h\"\n", "", 1))
		if err := os.WriteFile(fl.cfgPath, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fl
}

// tickRuns are the runs of the fleet's database: per account id, how many,
// and the wall time from the first start to the last finish.
func tickRuns(t testing.TB, dbURL string) (perAccount map[string]int, outcomes map[string]int, wall time.Duration) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	perAccount, outcomes = map[string]int{}, map[string]int{}
	rows, _ := conn.Query(ctx, `SELECT account_id, outcome FROM runs`)
	var id, outcome string
	if _, err := pgx.ForEachRow(rows, []any{&id, &outcome}, func() error {
		perAccount[id]++
		outcomes[outcome]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var first, last *time.Time
	if err := conn.QueryRow(ctx, `SELECT min(started_at), max(finished_at) FROM runs`).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if first != nil && last != nil {
		wall = last.Sub(*first)
	}
	return perAccount, outcomes, wall
}

// tickCost is what one tick cost, measured from outside the replicas:
// CPU time of the replicas and of the database's server sessions from
// just before the tick to its end, LivePerson calls, database
// transactions, and the runs each replica made.
type tickCost struct {
	replicaCPU, pgCPU time.Duration
	// harnessCPU is this process's: the simulators, mostly.
	harnessCPU     time.Duration
	lpCalls        int
	pgXacts        int64
	runsPerReplica []int
}

// procCPU is the CPU time (user + system, every thread) a process has
// used so far, from /proc; 0 when it is gone.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces) in
	// parentheses: utime and stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// selfCPU is the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dbWatch follows the fleet's database from one connection of its own:
// the runs finished, the server sessions' CPU and the transactions.
type dbWatch struct {
	t    testing.TB
	conn *pgx.Conn
}

func watchDB(t testing.TB, dbURL string) *dbWatch {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &dbWatch{t: t, conn: conn}
}

// finished counts the finished runs.
func (w *dbWatch) finished() int {
	var n int
	if err := w.conn.QueryRow(context.Background(), `SELECT count(*) FROM runs WHERE outcome <> 'running'`).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// sessionsCPU is the CPU time of every other server session on the
// database, by process id.
func (w *dbWatch) sessionsCPU() map[int]time.Duration {
	rows, _ := w.conn.Query(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		out[int(pid)] = procCPU(int(pid))
	}
	return out
}

// xacts is the database's committed and rolled back transactions so far
// (the server's statistics, flushed by each session at most every second
// and at its end).
func (w *dbWatch) xacts() int64 {
	var n int64
	if err := w.conn.QueryRow(context.Background(), `SELECT pg_stat_clear_snapshot() IS NULL,
		(SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database())`).Scan(new(bool), &n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// tickProfiles numbers the ticks whose replicas write CPU profiles (with
// $E2E_TICK_PROFILE_DIR set: tick-REPLICAS.TICK.REPLICA.cpu.pprof there).
var tickProfiles int

// oneTick starts replicas daemons on the fleet (scheduled every minute)
// early in a minute, so that all of them are up before the next minute
// starts and their cron ticks at the same moment, as replicas' do in
// production; it waits until every account has a finished run, then
// stops them, and returns what the tick cost.
func (fl *accountsFleet) oneTick(t testing.TB, replicas, accounts int) tickCost {
	t.Helper()
	if s := time.Now().Second(); s > 40 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	var procs []*proc
	env := fl.env
	tickProfiles++
	for i := range replicas {
		if dir := os.Getenv("E2E_TICK_PROFILE_DIR"); dir != "" {
			fl.env = append(slices.Clip(env), fmt.Sprintf("SKILLSYNC_CPUPROFILE=%s/tick-%d.%d.%d.cpu.pprof", dir, replicas, tickProfiles, i))
		}
		procs = append(procs, fl.start("run"))
	}
	fl.env = env
	for _, p := range procs {
		p.addr()
	}
	db := watchDB(t, fl.dbURL)
	// Just before the minute: the replicas have started and wait.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute - 300*time.Millisecond)))
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		cpu0[i] = procCPU(p.cmd.Process.Pid)
	}
	pg0, xacts0, self0 := db.sessionsCPU(), db.xacts(), selfCPU()
	calls0 := 0
	for _, sim := range fl.sims {
		calls0 += len(sim.Requests())
	}
	// The database, not the replicas' output, says when the tick is
	// over: a run is recorded after its last log line.
	deadline := time.Now().Add(3 * time.Minute)
	for db.finished() < accounts {
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("a replica exited with %d:\n%s", p.code, p.stderr.String())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every account ran within 3 minutes:\n%s", procs[0].stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := tickCost{harnessCPU: selfCPU() - self0}
	for i, p := range procs {
		c.replicaCPU += procCPU(p.cmd.Process.Pid) - cpu0[i]
	}
	for pid, cpu := range db.sessionsCPU() {
		c.pgCPU += cpu - pg0[pid]
	}
	// The sessions flush their statistics within a second.
	time.Sleep(1500 * time.Millisecond)
	c.pgXacts = db.xacts() - xacts0
	for _, sim := range fl.sims {
		c.lpCalls += len(sim.Requests())
	}
	c.lpCalls -= calls0
	for _, p := range procs {
		if code := p.stop(30 * time.Second); code != 0 {
			t.Errorf("a replica exited with %d", code)
		}
		c.runsPerReplica = append(c.runsPerReplica, len(p.logged("run finished")))
	}
	return c
}

// TestAccountsBinary: two accounts through the real binary, one whose
// credentials LivePerson refuses (401) while the other applies: sync's
// exit status is 1 with one JSON line per account, and stays 1 when the
// other account has changes pending (2); --account runs one.
func TestAccountsBinary(t *testing.T) {
	t.Parallel()
	fl := setupAccounts(t, 2, nil, 0, map[int]bool{1: true}, "run_at_start: true\n")
	res := fl.mustRun(exitError, "sync", "--format", "json")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("sync --format json: %d lines, want one per account:\n%s", len(lines), res.stdout)
	}
	var docs []map[string]any
	for _, l := range lines {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		docs = append(docs, d)
	}
	if docs[0]["account"] != "a01" || docs[0]["outcome"] != "applied" || docs[1]["account"] != "a02" || docs[1]["outcome"] != "failed" {
		t.Errorf("documents: %v", docs)
	}
	if !strings.Contains(fmt.Sprint(docs[1]["error"]), "401") {
		t.Errorf("a02's error does not say 401: %v", docs[1]["error"])
	}
	if n := len(liveSkills(fl.sims[0])); n != 20 {
		t.Errorf("a01 has %d skills, want its 20 teams", n)
	}
	for _, r := range fl.sims[1].Requests() {
		if r.Method != "GET" && strings.Contains(r.Path, "/configuration/") {
			t.Errorf("a02 was written: %s %s", r.Method, r.Path)
		}
	}
	fl.mustRun(exitOK, "sync", "--account", "a01")
	fl.checkDBNoSecrets()

	// Changes pending in a01 (a new team) and an error in a02: 1 first.
	fl.writeHR(staff(21, 2, 1))
	fl.mustRun(exitChanges, "plan", "--detailed-exitcode", "--account", "a01")
	fl.mustRun(exitError, "plan", "--detailed-exitcode")
}

// Scale of BenchmarkAccountsTick (issue 13).
const (
	benchAccounts = 24
	benchSkills   = 200
	benchLatency  = 20 * time.Millisecond
)

// BenchmarkAccountsTick measures one full tick of 24 accounts × 200
// skills, LivePerson answering each call after 20 ms, by one replica and
// by three on one database (daemon.concurrency 4 each): the wall time from
// the first run's start to the last one's finish, and the ratio. Each
// account must run exactly once per tick, whichever replica takes it.
// It also reports, per account run, the CPU time of the replicas, of the
// database's server sessions and of this process (the simulators, mostly)
// during the tick, the database transactions and the LivePerson calls.
func BenchmarkAccountsTick(b *testing.B) {
	people := staff(benchSkills, 2, 1)
	tick := func(replicas int) (time.Duration, tickCost) {
		fl := setupAccounts(b, benchAccounts, people, benchLatency, nil, "schedule: \"* * * * *\"\ndaemon: {concurrency: 4}\n")
		cost := fl.oneTick(b, replicas, benchAccounts)
		per, outcomes, wall := tickRuns(b, fl.dbURL)
		if len(per) != benchAccounts || outcomes["applied"] != benchAccounts {
			b.Fatalf("%d replicas: runs per account %v, outcomes %v; want one applied run for each of %d accounts", replicas, per, outcomes, benchAccounts)
		}
		for id, n := range per {
			if n != 1 {
				b.Errorf("%d replicas: account %s ran %d times in one tick", replicas, id, n)
			}
		}
		for i, sim := range fl.sims {
			if n := len(liveSkills(sim)); n != benchSkills {
				b.Errorf("account %s has %d skills, want %d", accountID(i), n, benchSkills)
			}
		}
		b.Logf("%d replicas: tick %.2f s, runs per replica %v, per run: replica CPU %.1f ms, PostgreSQL sessions' CPU %.1f ms, simulators' CPU %.1f ms, %.1f LivePerson calls, %.1f transactions",
			replicas, wall.Seconds(), cost.runsPerReplica, ms(cost.replicaCPU)/benchAccounts, ms(cost.pgCPU)/benchAccounts, ms(cost.harnessCPU)/benchAccounts,
			float64(cost.lpCalls)/benchAccounts, float64(cost.pgXacts)/benchAccounts)
		return wall, cost
	}
	var walls [2]time.Duration
	var costs [2]tickCost
	for b.Loop() {
		for i, replicas := range []int{1, 3} {
			w, c := tick(replicas)
			walls[i] += w
			costs[i].replicaCPU += c.replicaCPU
			costs[i].pgCPU += c.pgCPU
			costs[i].harnessCPU += c.harnessCPU
			costs[i].lpCalls += c.lpCalls
			costs[i].pgXacts += c.pgXacts
		}
	}
	runs := float64(b.N * benchAccounts)
	b.ReportMetric(walls[0].Seconds()/float64(b.N), "s/tick-1-replica")
	b.ReportMetric(walls[1].Seconds()/float64(b.N), "s/tick-3-replicas")
	b.ReportMetric(walls[1].Seconds()/walls[0].Seconds(), "ratio")
	for i, name := range []string{"1-replica", "3-replicas"} {
		c := costs[i]
		b.ReportMetric(ms(c.replicaCPU)/runs, "cpu-ms/run-"+name)
		b.ReportMetric(ms(c.pgCPU)/runs, "pg-cpu-ms/run-"+name)
		b.ReportMetric(ms(c.harnessCPU)/runs, "sim-cpu-ms/run-"+name)
		b.ReportMetric(float64(c.pgXacts)/runs, "pg-xacts/run-"+name)
	}
	b.ReportMetric(float64(costs[0].lpCalls)/runs, "lp-calls/run")
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
