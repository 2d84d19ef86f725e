package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
	"github.com/skillsync/skillsync/sync/notify"
)

// twoAccounts is a fixture with accounts emea (LivePerson 111) and apac
// (222), each on a simulator of its own; apacExtra is appended to apac's
// entry (indented as its keys), extra to the file.
type twoAccounts struct {
	*fixture
	emea, apac *lpsim.Sim
}

func setupTwoAccounts(t *testing.T, dbURL, apacSecret, apacExtra, extra string) *twoAccounts {
	t.Helper()
	emea := lpsim.New(lpsim.Options{AccountID: "111", ClientID: testClientID, ClientSecret: testClientSecret})
	apac := lpsim.New(lpsim.Options{AccountID: "222", ClientID: testClientID, ClientSecret: testClientSecret})
	es, as := lpsim.Serve(emea), lpsim.Serve(apac)
	t.Cleanup(es.Close)
	t.Cleanup(as.Close)
	f := &fixture{t: t, sim: emea, srv: es, dbURL: dbURL, httpClient: es.Client()}
	dir := t.TempDir()
	f.hrPath = writeFile(t, dir, "hr.csv", string(demoCSV))
	f.configPath = writeFile(t, dir, "config.yaml", fmt.Sprintf(`database: {url: "${DB_URL}"}
hr:
  type: csv
  path: %s
  fields: {id: EmployeeNumber}
  active: 'Attrition == "No"'
skills:
  rules:
    - {id: department, name: "{{ .Department }}", description: "{{ .Department }} staff"}
accounts:
  - name: emea
    liveperson:
      account_id: "111"
      domain_api_url: %s
      retry_delays: []
      auth: {method: oauth2, client_id: %s, client_secret: "${LP_CLIENT_SECRET}"}
  - name: apac
    liveperson:
      account_id: "222"
      domain_api_url: %s
      retry_delays: []
      auth: {method: oauth2, client_id: %s, client_secret: %q}
%s%s`, f.hrPath, es.URL(), testClientID, as.URL(), testClientID, apacSecret, apacExtra, extra))
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret)
	return &twoAccounts{fixture: f, emea: emea, apac: apac}
}

// resultLines decodes plan/sync --format json with several accounts: one
// JSON document per line.
func resultLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line is not a JSON document (%v): %s\nstdout:\n%s", err, line, out)
		}
		docs = append(docs, d)
	}
	return docs
}

const accountSkillsPath = "/configuration/le-users/skills"

// TestAccountsOneFailsOtherApplies: apac's credentials are refused (401)
// while emea applies; the exit status is 1, each account has its JSON
// line, and --account runs one account alone.
func TestAccountsOneFailsOtherApplies(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), "wrong-secret-0123456789", "", "")

	out, errOut := f.mustRun(exitError, "sync", "--format", "json")
	docs := resultLines(t, out)
	if len(docs) != 2 || docs[0]["account"] != "emea" || docs[1]["account"] != "apac" {
		t.Fatalf("documents: %v", docs)
	}
	if docs[0]["outcome"] != "applied" || docs[1]["outcome"] != "failed" {
		t.Errorf("outcomes: emea %v, apac %v (%v)", docs[0]["outcome"], docs[1]["outcome"], docs[1]["error"])
	}
	if n := f.emea.Count("POST", "/api/account/111"+accountSkillsPath); n == 0 {
		t.Error("emea's skills were not created")
	}
	if n := f.apac.Count("POST", "/api/account/222"+accountSkillsPath); n != 0 {
		t.Errorf("apac: %d skill POSTs", n)
	}
	if !strings.Contains(errOut, "account apac:") || strings.Contains(errOut, "wrong-secret-0123456789") {
		t.Errorf("stderr names apac's error without its secret:\n%s", errOut)
	}

	// Each account's runs are its own.
	out, _ = f.mustRun(exitOK, "runs", "--account", "emea", "--format", "json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0]["outcome"] != "applied" {
		t.Errorf("emea's runs: %s (%v)", out, err)
	}
	out, _ = f.mustRun(exitOK, "runs", "--account", "apac", "--format", "json")
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0]["outcome"] != "failed" {
		t.Errorf("apac's runs: %s (%v)", out, err)
	}
	// A run id names one run: runs show finds its account.
	out, _ = f.mustRun(exitOK, "runs", "show", fmt.Sprint(int64(runs[0]["id"].(float64))), "--format", "json")
	if !strings.Contains(out, `"outcome": "failed"`) {
		t.Errorf("runs show of apac's run without --account: %s", out)
	}
	if _, errOut := f.mustRun(exitError, "runs", "show", fmt.Sprint(int64(runs[0]["id"].(float64))), "--account", "emea"); !strings.Contains(errOut, "does not exist") {
		t.Errorf("runs show of apac's run in emea: %s", errOut)
	}
	_, errOut = f.mustRun(exitError, "runs")
	if !strings.Contains(errOut, "--account") || !strings.Contains(errOut, "emea, apac") {
		t.Errorf("runs without --account: %s", errOut)
	}
	_, errOut = f.mustRun(exitError, "plan", "--account", "nope")
	if !strings.Contains(errOut, "emea, apac") {
		t.Errorf("unknown account: %s", errOut)
	}

	// emea alone: one document, as with one account (indented), naming it.
	out, _ = f.mustRun(exitOK, "plan", "--account", "emea", "--format", "json")
	var one map[string]any
	if err := json.Unmarshal([]byte(out), &one); err != nil || one["account"] != "emea" || one["outcome"] != "no_changes" {
		t.Errorf("plan --account emea: %s (%v)", out, err)
	}
	// Text: a header per account.
	out, _ = f.mustRun(exitError, "plan")
	if !strings.Contains(out, "== account emea (LivePerson account 111) ==") || !strings.Contains(out, "== account apac (LivePerson account 222) ==") {
		t.Errorf("text plan headers:\n%s", out)
	}
	// emea's release does not reach apac's state, and the other way round.
	if _, errOut := f.mustRun(exitError, "release", "--account", "apac", "Sales"); !strings.Contains(errOut, "not managed") {
		t.Errorf("release in apac: %s", errOut)
	}
	f.mustRun(exitOK, "release", "--account", "emea", "Sales")
}

// TestAccountsExitPrecedence: refused (3) comes before changes pending
// (2), whatever the order of the accounts.
func TestAccountsExitPrecedence(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "    sync: {min_records: 100000}\n", "")
	out, _ := f.mustRun(exitRefused, "plan", "--detailed-exitcode", "--format", "json")
	docs := resultLines(t, out)
	if len(docs) != 2 || docs[0]["outcome"] != "planned" || docs[1]["outcome"] != "refused" {
		t.Fatalf("documents: %v", docs)
	}
	f.mustRun(exitChanges, "plan", "--detailed-exitcode", "--account", "emea")
}

func TestWorstExit(t *testing.T) {
	t.Parallel()
	code := func(c int) error { return &exitCodeError{code: c} }
	tests := []struct {
		codes []int
		want  int
	}{
		{[]int{0, 0}, 0},
		{[]int{2, 0}, 2},
		{[]int{2, 4}, 4},
		{[]int{4, 3, 2}, 3},
		{[]int{3, 1, 4}, 1},
		{[]int{2, 3}, 3},
	}
	for _, tt := range tests {
		errs := make([]error, len(tt.codes))
		for i, c := range tt.codes {
			if c == exitError {
				errs[i] = fmt.Errorf("plain error")
			} else if c != 0 {
				errs[i] = code(c)
			}
		}
		if got := exitCode(worstExit(errs)); got != tt.want {
			t.Errorf("%v: exit %d, want %d", tt.codes, got, tt.want)
		}
	}
}

// TestLegacyStateWithSeveralAccounts: a database written before accounts,
// with several accounts configured, is refused by every command until
// migrate --legacy-account names its account; then that account has it.
func TestLegacyStateWithSeveralAccounts(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.EmptyDB(t)
	pgtest.MigrateTo(t, dbURL, 7, 0)
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO runs (trigger, mode, outcome, finished_at) VALUES ('schedule', 'apply', 'applied', now());
		INSERT INTO owned_skills (skill_id, name, rule_id, rule_key, created_by_run) VALUES (7, 'Legacy', 'department', 'department|Legacy', 1);`); err != nil {
		t.Fatal(err)
	}
	f := setupTwoAccounts(t, dbURL, testClientSecret, "", "")
	for _, args := range [][]string{{"plan"}, {"sync", "--account", "emea"}, {"runs", "--account", "emea"}, {"release", "--account", "emea", "Legacy"}, {"migrate"}} {
		_, errOut := f.mustRun(exitError, args...)
		if !strings.Contains(errOut, "skillsync migrate --legacy-account NAME") || !strings.Contains(errOut, "emea, apac") {
			t.Errorf("%v: %s", args, errOut)
		}
	}
	if n := f.emea.Count("GET", "/api/account/111"); n != 0 {
		t.Errorf("LivePerson was read %d times before the legacy state had an account", n)
	}
	f.mustRun(exitOK, "migrate", "--legacy-account", "emea")
	st, err := store.Open(context.Background(), dbURL, store.Options{Account: "111"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	owned, err := st.OwnedSkills(context.Background())
	if err != nil || len(owned) != 1 || owned[0].Name != "Legacy" {
		t.Errorf("emea owns %+v, %v", owned, err)
	}
	if owned, err := st.Account("222").OwnedSkills(context.Background()); err != nil || len(owned) != 0 {
		t.Errorf("apac owns %+v, %v", owned, err)
	}
	f.mustRun(exitOK, "runs", "--account", "emea")
}

// TestLegacyStateWithOneAccount: with one account (no accounts:), the state
// of a database written before accounts becomes its own at the first
// start.
func TestLegacyStateWithOneAccount(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.dbURL = pgtest.EmptyDB(t)
	pgtest.MigrateTo(t, f.dbURL, 7, 0)
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret, "TRIGGER_TOKEN", testTriggerToken)
	conn, err := pgx.Connect(context.Background(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO runs (trigger, mode, outcome, finished_at) VALUES ('schedule', 'apply', 'applied', now());
		INSERT INTO owned_skills (skill_id, name, rule_id, rule_key) VALUES (7, 'Legacy', 'x', 'x|Legacy');`); err != nil {
		t.Fatal(err)
	}
	f.mustRun(exitOK, "migrate")
	out, _ := f.mustRun(exitOK, "runs", "--format", "json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
		t.Errorf("runs after the upgrade: %s (%v)", out, err)
	}
	f.mustRun(exitOK, "release", "Legacy")
}

// TestDaemonAccounts: the daemon runs every account at start, one failing
// (401) while the other applies; /status lists both, the metrics carry
// the account, and POST /v1/runs needs ?account= with several accounts.
func TestDaemonAccounts(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), "wrong-secret-0123456789", "    schedule: \"@every 2h\"\n",
		"run_at_start: true\nserver: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n")
	d := f.startDaemon(&env{})
	outcomes := map[string]store.Outcome{}
	for range 2 {
		res := d.nextRun()
		outcomes[string(res.Run.Outcome)] = res.Run.Outcome
	}
	if len(outcomes) != 2 || outcomes["applied"] == "" || outcomes["failed"] == "" {
		t.Fatalf("start-up runs: %v", outcomes)
	}
	code, body, _ := d.do("GET", "/status", "")
	var st struct {
		Accounts []struct {
			Name      string `json:"name"`
			AccountID string `json:"account_id"`
			LastRun   *struct {
				Outcome string `json:"outcome"`
			} `json:"last_run"`
			LastSuccess    *string `json:"last_success"`
			NextRun        *string `json:"next_run"`
			PendingDeletes []any   `json:"pending_deletes"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 || len(st.Accounts) != 2 {
		t.Fatalf("/status %d: %s (%v)", code, body, err)
	}
	emea, apac := st.Accounts[0], st.Accounts[1]
	if emea.Name != "emea" || emea.AccountID != "111" || emea.LastRun == nil || emea.LastRun.Outcome != "applied" || emea.LastSuccess == nil || emea.NextRun == nil {
		t.Errorf("emea's status: %+v", emea)
	}
	if apac.Name != "apac" || apac.LastRun == nil || apac.LastRun.Outcome != "failed" || apac.LastSuccess != nil || apac.NextRun == nil || *apac.NextRun == *emea.NextRun {
		t.Errorf("apac's status (its own schedule): %+v", apac)
	}
	_, metrics, _ := d.do("GET", "/metrics", "")
	for _, want := range []string{`skillsync_runs_total{account="emea",mode="apply",outcome="applied"} 1`,
		`skillsync_runs_total{account="apac",mode="apply",outcome="failed"} 1`,
		`skillsync_last_success_timestamp_seconds{account="emea"}`,
		`skillsync_run_in_progress{account="apac"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	code, body, _ = d.do("POST", "/v1/runs", testTriggerToken)
	if code != 400 || !strings.Contains(body, "emea, apac") {
		t.Errorf("POST /v1/runs without account: %d %s", code, body)
	}
	code, body, _ = d.do("POST", "/v1/runs?account=emea&mode=plan", testTriggerToken)
	if code != 200 || !strings.Contains(body, `"outcome": "no_changes"`) {
		t.Errorf("POST /v1/runs?account=emea: %d %s", code, body)
	}
	if logs := d.stderr.String(); !strings.Contains(logs, `"account":"apac"`) {
		t.Errorf("apac's log lines do not name it")
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestTickSharedByReplicas: three replicas (three pools) ticking at once
// run each account once, whoever takes it; a tick again at once runs none
// (another replica ran them for this tick); once the interval has passed
// each runs once more.
func TestTickSharedByReplicas(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "", "")
	f.emea.SetLatency(20 * time.Millisecond)
	f.apac.SetLatency(20 * time.Millisecond)
	cfg, _, err := loadConfig(f.configPath, f.lookup)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var replicas []*daemon
	for range 3 {
		apps, closeAll, err := newApps(ctx, cfg, slog.New(slog.DiscardHandler), &env{lpHTTPClient: f.httpClient})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeAll)
		d := newDaemonFor(apps, &env{})
		d.runCtx = ctx
		replicas = append(replicas, d)
	}
	tickAll := func() {
		var wg gosync.WaitGroup
		for _, d := range replicas {
			wg.Go(func() { d.tick(d.apps, "@every 1h") })
		}
		wg.Wait()
	}
	conn, err := pgx.Connect(ctx, f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	runsOf := func() map[string]int {
		rows, _ := conn.Query(ctx, `SELECT account_id, count(*) FROM runs GROUP BY account_id`)
		out := map[string]int{}
		var id string
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tickAll()
	tickAll()
	if got := runsOf(); got["111"] != 1 || got["222"] != 1 || len(got) != 2 {
		t.Errorf("after two ticks at once: runs %v, want one per account", got)
	}
	if _, err := conn.Exec(ctx, `UPDATE runs SET started_at = started_at - interval '1 hour', finished_at = finished_at - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	tickAll()
	if got := runsOf(); got["111"] != 2 || got["222"] != 2 {
		t.Errorf("a tick an interval later: runs %v, want two per account", got)
	}

	// A replica died running emea's last tick (its session, and so the
	// lock, is gone; its run is left running): the others take emea at
	// their next tick and close the dead run.
	if _, err := conn.Exec(ctx, `UPDATE runs SET started_at = started_at - interval '1 hour', finished_at = finished_at - interval '1 hour';
		INSERT INTO runs (account_id, trigger, mode, started_at) VALUES ('111', 'schedule', 'apply', now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	tickAll()
	var interrupted, applied int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE outcome = 'interrupted'), count(*) FILTER (WHERE outcome IN ('applied', 'no_changes'))
		FROM runs WHERE account_id = '111'`).Scan(&interrupted, &applied); err != nil || interrupted != 1 || applied != 3 {
		t.Errorf("after a dead replica's run: %d interrupted, %d applied (%v); want 1 and 3", interrupted, applied, err)
	}
}

// shortDebounce sets hr.event_debounce to 50ms in f's configuration.
func (f *twoAccounts) shortDebounce() {
	f.t.Helper()
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		f.t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), "  active: 'Attrition == \"No\"'\n", "  active: 'Attrition == \"No\"'\n  event_debounce: 50ms\n", 1))
	if err := os.WriteFile(f.configPath, raw, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// TestHREventsRunEveryAccount: with several accounts an HR event starts a
// run of each (each account debounces on its own).
func TestHREventsRunEveryAccount(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "",
		"server: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n")
	f.shortDebounce()
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/hr-events", testTriggerToken); code != 202 {
		t.Fatalf("POST /v1/hr-events: %d %s", code, body)
	}
	for range 2 {
		if res := d.nextRun(); res.Run.Outcome != store.OutcomeApplied {
			t.Errorf("run %d: %s %s", res.Run.ID, res.Run.Outcome, res.Run.Error)
		}
	}
	if n := f.emea.Count("POST", "/api/account/111"+accountSkillsPath); n == 0 {
		t.Error("emea did not run for the event")
	}
	if n := f.apac.Count("POST", "/api/account/222"+accountSkillsPath); n == 0 {
		t.Error("apac did not run for the event")
	}
}

// TestHREventRunsShareConcurrency: an HR event reaches every account, and
// their runs take daemon.concurrency's slots like the scheduled ones: with
// one slot, the second account's run starts only once the first's is over.
func TestHREventRunsShareConcurrency(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "",
		"daemon: {concurrency: 1}\nserver: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n")
	f.shortDebounce()
	var mu gosync.Mutex
	reads := map[string]int{} // skills reads by LivePerson account
	g := &gate{}
	g.arm()
	f.httpClient = &http.Client{Transport: hookTransport{base: f.srv.Client().Transport,
		match: func(r *http.Request) bool {
			if !isSkillsRequest("GET")(r) {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range []string{"111", "222"} {
				if strings.Contains(r.URL.Path, "/api/account/"+id+"/") {
					reads[id]++
				}
			}
			return true
		},
		hook: g.hold}}
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/hr-events", testTriggerToken); code != 202 {
		t.Fatalf("POST /v1/hr-events: %d %s", code, body)
	}
	<-g.reached // one account's run holds the only slot, inside LivePerson
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	during := len(reads)
	mu.Unlock()
	close(g.open)
	if during != 1 {
		t.Errorf("with daemon.concurrency 1, %d accounts read LivePerson at once", during)
	}
	for range 2 {
		if res := d.nextRun(); res.Run.Outcome != store.OutcomeApplied {
			t.Errorf("run %d: %s %s", res.Run.ID, res.Run.Outcome, res.Run.Error)
		}
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestDaemonNotifiesEveryAccountAtOnce: the daemon runs one notification
// sender for all its accounts, and a run of any account wakes it: with the
// sender's own look at the outbox an hour away, the second account's
// message arrives at once too (it used to wait for that look).
func TestDaemonNotifiesEveryAccountAtOnce(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t)
	f := setupTwoAccounts(t, pgtest.DB(t), "wrong-secret-0123456789", "",
		"server: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n"+
			"notify:\n  sinks:\n    - {name: hook, type: webhook, url: \""+hook.URL+"/hook\", events: [applied, failed]}\n")
	d := f.startDaemon(&env{notifyPoll: time.Hour})
	for _, want := range []struct{ account, event string }{{"emea", "applied"}, {"apac", "failed"}} {
		if code, body, _ := d.do("POST", "/v1/runs?account="+want.account, testTriggerToken); code != 200 {
			t.Fatalf("POST /v1/runs?account=%s: %d %s", want.account, code, body)
		}
		d.nextRun()
		var body notify.WebhookBody
		if r := hook.next(t); json.Unmarshal(r.body, &body) != nil || body.Account != want.account || body.Event != want.event {
			t.Fatalf("notification %s, want %s for %s", r.body, want.event, want.account)
		}
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
