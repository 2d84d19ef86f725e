package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
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

// finishedRuns counts the finished runs.
func finishedRuns(t testing.TB, dbURL string) int {
	per, outcomes, _ := tickRuns(t, dbURL)
	n := 0
	for _, c := range per {
		n += c
	}
	return n - outcomes["running"]
}

// oneTick starts replicas daemons on the fleet (scheduled every minute)
// early in a minute, so that all of them are up before the next minute
// starts and their cron ticks at the same moment, as replicas' do in
// production; it waits until every account has a finished run, then
// stops them.
func (fl *accountsFleet) oneTick(t testing.TB, replicas, accounts int) {
	t.Helper()
	if s := time.Now().Second(); s > 40 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	var procs []*proc
	for range replicas {
		procs = append(procs, fl.start("run"))
	}
	for _, p := range procs {
		p.addr()
	}
	// The database, not the replicas' output, says when the tick is
	// over: a run is recorded after its last log line.
	deadline := time.Now().Add(3 * time.Minute)
	for finishedRuns(t, fl.dbURL) < accounts {
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
	for _, p := range procs {
		if code := p.stop(30 * time.Second); code != 0 {
			t.Errorf("a replica exited with %d", code)
		}
	}
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
func BenchmarkAccountsTick(b *testing.B) {
	people := staff(benchSkills, 2, 1)
	tick := func(replicas int) time.Duration {
		fl := setupAccounts(b, benchAccounts, people, benchLatency, nil, "schedule: \"* * * * *\"\ndaemon: {concurrency: 4}\n")
		fl.oneTick(b, replicas, benchAccounts)
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
		return wall
	}
	var one, three time.Duration
	for b.Loop() {
		one += tick(1)
		three += tick(3)
	}
	b.ReportMetric(one.Seconds()/float64(b.N), "s/tick-1-replica")
	b.ReportMetric(three.Seconds()/float64(b.N), "s/tick-3-replicas")
	b.ReportMetric(three.Seconds()/one.Seconds(), "ratio")
}
