package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// skillsPath is the Skills API path of the fixtures' account.
const skillsPath = "/api/account/12345678/configuration/le-users/skills"

// resultDoc is the one JSON document of plan and sync --format json.
type resultDoc struct {
	FormatVersion int            `json:"format_version"`
	RunID         int64          `json:"run_id"`
	Mode          string         `json:"mode"`
	Outcome       string         `json:"outcome"`
	Refused       string         `json:"refused"`
	Error         string         `json:"error"`
	Summary       map[string]int `json:"summary"`
	Changes       []any          `json:"changes"`
}

// decodeResult fails the test unless s is exactly one JSON document.
func decodeResult(t *testing.T, what, s string) resultDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var doc resultDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: stdout is not JSON (%v):\n%s", what, err, s)
	}
	if dec.More() {
		t.Fatalf("%s: stdout holds more than one JSON document:\n%s", what, s)
	}
	if doc.FormatVersion != 1 || doc.Outcome == "" {
		t.Errorf("%s: format_version %d, outcome %q:\n%s", what, doc.FormatVersion, doc.Outcome, s)
	}
	return doc
}

// TestJSONOutputOnEveryOutcome: with --format json, stdout is one JSON
// document whatever the run did, and the exit status is unchanged.
func TestJSONOutputOnEveryOutcome(t *testing.T) {
	t.Parallel()
	f := setup(t, "")

	// Success: the plan, with the run's outcome.
	out, _ := f.mustRun(exitOK, "plan", "--format", "json")
	if doc := decodeResult(t, "plan", out); doc.Outcome != "planned" || doc.Mode != "plan" || doc.RunID == 0 || doc.Summary["create"] != departmentsAndRol || doc.Error != "" {
		t.Errorf("plan: %+v", doc)
	}
	out, _ = f.mustRun(exitOK, "sync", "--format", "json")
	if doc := decodeResult(t, "sync", out); doc.Outcome != "applied" || len(doc.Changes) != departmentsAndRol {
		t.Errorf("sync: %+v", doc)
	}

	// Failed: LivePerson answers 500 to the skills read (no retries).
	f.sim.InjectFault(lpFault("GET", 500, 2))
	for _, args := range [][]string{{"plan", "--format", "json", "--detailed-exitcode"}, {"sync", "--format", "json"}} {
		out, errOut := f.mustRun(exitError, args...)
		doc := decodeResult(t, strings.Join(args, " "), out)
		if doc.Outcome != "failed" || doc.RunID == 0 || !strings.Contains(doc.Error, "500") || doc.Summary != nil {
			t.Errorf("%v: %+v", args, doc)
		}
		if !strings.Contains(errOut, "500") {
			t.Errorf("%v: stderr lacks the error:\n%s", args, errOut)
		}
	}

	// Refused: the next export has 100 of 1,470 people.
	lines := strings.SplitAfter(string(demoCSV), "\n")
	if err := os.WriteFile(f.hrPath, []byte(strings.Join(lines[:101], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", "--format", "json", "--detailed-exitcode"}, {"sync", "--format", "json"}} {
		out, _ := f.mustRun(exitRefused, args...)
		doc := decodeResult(t, strings.Join(args, " "), out)
		if doc.Outcome != "refused" || doc.RunID == 0 || doc.Refused == "" || doc.Error != "" {
			t.Errorf("%v: %+v", args, doc)
		}
	}

	// No run at all: another process holds the lock, or the config is bad.
	ctx := context.Background()
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lock, err := st.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = f.mustRun(exitError, "sync", "--format", "json")
	if doc := decodeResult(t, "sync during another run", out); doc.Outcome != "run_in_progress" || doc.RunID != 0 || !strings.Contains(doc.Error, "in progress") {
		t.Errorf("sync during another run: %+v", doc)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	f.lookup = envMap("LP_CLIENT_SECRET", testClientSecret)
	out, _ = f.mustRun(exitError, "plan", "--format", "json")
	if doc := decodeResult(t, "plan without a database", out); doc.Outcome != "error" || !strings.Contains(doc.Error, "database.url") {
		t.Errorf("plan without a database: %+v", doc)
	}
}

func lpFault(method string, status, times int) lpsim.Fault {
	return lpsim.Fault{Method: method, PathPrefix: skillsPath, Status: status, Times: times}
}

// TestDetailedExitcodeCountsOnlyChanges: a plan whose only work is
// bookkeeping (forgetting a skill deleted by hand) has nothing pending
// for a script: --detailed-exitcode exits 0, not 2.
func TestDetailedExitcodeCountsOnlyChanges(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	withStatic := strings.Replace(string(raw), "server: {", "  static: [{name: Escalations, description: Supervisors on call}]\nserver: {", 1)
	writeFile(t, filepath.Dir(f.configPath), "config.yaml", withStatic)
	f.mustRun(exitOK, "sync")
	f.mustRun(exitOK, "plan", "--detailed-exitcode")

	// Escalations is no longer configured, and someone deleted it by hand.
	writeFile(t, filepath.Dir(f.configPath), "config.yaml", string(raw))
	var id int64
	for _, s := range f.sim.Skills(false) {
		if s["name"] == "Escalations" {
			id, _ = strconv.ParseInt(fmt.Sprint(s["id"]), 10, 64)
		}
	}
	if id == 0 {
		t.Fatal("the first sync did not create Escalations")
	}
	f.sim.EditSkill(id, func(m map[string]any) { m["deleted"] = true })

	out, _ := f.mustRun(exitOK, "plan", "--detailed-exitcode", "--format", "json")
	doc := decodeResult(t, "plan", out)
	for k, n := range doc.Summary {
		if n != 0 && k != "unchanged" {
			t.Errorf("summary %s = %d, want 0", k, n)
		}
	}
	// The bookkeeping was there: the apply run forgets the skill.
	f.mustRun(exitOK, "sync")
	if _, errOut := f.mustRun(exitError, "release", "Escalations"); !strings.Contains(errOut, "not managed") {
		t.Errorf("Escalations is still in the registry: %s", errOut)
	}
}

// TestLastSuccessMetricComesFromTheDatabase: after a restart, and on a
// replica whose runs are skipped because another holds the lock,
// skillsync_last_success_timestamp_seconds is the last success recorded
// by anyone, not 0.
func TestLastSuccessMetricComesFromTheDatabase(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.mustRun(exitOK, "sync") // a run of an earlier process
	ctx := context.Background()
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := st.LastSuccess(ctx)
	if err != nil || first == nil {
		t.Fatalf("last success: %v %v", first, err)
	}

	d := f.startDaemon(&env{})
	if got := lastSuccessMetric(t, d); got != first.FinishedAt.Unix() {
		t.Errorf("after start: %d, want %d (run %d)", got, first.FinishedAt.Unix(), first.ID)
	}

	// Another replica holds the lock and has just finished a run.
	lock, err := st.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(ctx) }()
	other, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	later := first.FinishedAt.Add(time.Hour)
	other.Outcome, other.FinishedAt = store.OutcomeNoChanges, &later
	if err := st.FinishRun(ctx, other); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := d.do("POST", "/v1/runs", testTriggerToken); code != http.StatusConflict {
		t.Fatalf("trigger while another replica holds the lock: %d %s", code, body)
	}
	if got := lastSuccessMetric(t, d); got != later.Unix() {
		t.Errorf("after a skipped run: %d, want %d", got, later.Unix())
	}
}

var lastSuccessLine = regexp.MustCompile(`(?m)^skillsync_last_success_timestamp_seconds (\S+)$`)

func lastSuccessMetric(t *testing.T, d *daemonHandle) int64 {
	t.Helper()
	_, body, _ := d.do("GET", "/metrics", "")
	m := lastSuccessLine.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics lacks skillsync_last_success_timestamp_seconds")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// TestShutdownTimeoutRecordsTheRun: a run whose create batch is still
// unanswered when shutdown_timeout expires is recorded as interrupted by
// the daemon, which exits 0 without waiting for it.
func TestShutdownTimeoutRecordsTheRun(t *testing.T) {
	t.Parallel()
	// 1 s: half of it is left for recording the run, ample even on a
	// loaded machine.
	f := setup(t, "shutdown_timeout: 1s\n")
	held, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/skills") {
			once.Do(func() { close(held) })
			<-release // LivePerson takes its time
		}
		next.ServeHTTP(w, r)
	})
	// Before the simulator's Close, which waits for its handlers.
	t.Cleanup(func() { close(release) })
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/runs?wait=false", testTriggerToken); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	<-held
	if code := d.stop(); code != exitOK {
		t.Fatalf("exit %d, want 0; logs:\n%s", code, d.stderr.String())
	}

	st, err := store.Open(context.Background(), f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	last, err := st.LastRun(context.Background())
	if err != nil || last == nil {
		t.Fatalf("last run: %v", err)
	}
	if last.Outcome != store.OutcomeInterrupted || last.FinishedAt == nil || !strings.Contains(last.Error, "shutdown_timeout") {
		t.Errorf("the run in flight: outcome %s, finished %v, error %q; want interrupted, finished, naming shutdown_timeout",
			last.Outcome, last.FinishedAt, last.Error)
	}
	logs := d.stderr.String()
	for _, want := range []string{"recorded as interrupted", `"msg":"skillsync stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestShutdownReserveFitsTheTimeout: the reserve kept at the end of
// shutdown_timeout for recording an abandoned run and closing down is
// positive and leaves at least half of it to the run. (The recording and
// the logout are bounded by the timeout's end itself.)
func TestShutdownReserveFitsTheTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ timeout, reserve time.Duration }{
		{time.Millisecond, 500 * time.Microsecond},
		{300 * time.Millisecond, 150 * time.Millisecond},
		{2 * time.Second, time.Second},
		{4 * time.Second, time.Second},
		{10 * time.Second, 2 * time.Second},
		{25 * time.Second, 5 * time.Second},
		{30 * time.Second, 5 * time.Second},
		{10 * time.Minute, 5 * time.Second},
	} {
		got := shutdownReserve(tc.timeout)
		if got != tc.reserve || got <= 0 || got > tc.timeout/2 {
			t.Errorf("shutdownReserve(%s) = %s, want %s (positive, at most half)", tc.timeout, got, tc.reserve)
		}
	}
}

// TestRunsShowExplainsTheJournal: runs show names the rule key of each
// create, and explains a create whose answer died with its process and a
// later run settled (resolved).
func TestRunsShowExplainsTheJournal(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A process died with this create sent and unanswered.
	dead, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.JournalAdd(ctx, dead.ID, []store.Operation{{Action: "create", SkillName: "Sales",
		RuleID: "department", RuleKey: "department|Sales", State: store.OpSent}}); err != nil {
		t.Fatal(err)
	}
	f.mustRun(exitOK, "sync")

	out, _ := f.mustRun(exitOK, "runs", "show", strconv.FormatInt(dead.ID, 10))
	for _, want := range []string{`(?m)^1\s+create\s+Sales\s+-\s+department\|Sales\s+resolved\s`, `(?m)^\s+resolved\s+sent, never answered, and settled by a later run`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("runs show %d lacks %s:\n%s", dead.ID, want, out)
		}
	}
	out, _ = f.mustRun(exitOK, "runs", "show", strconv.FormatInt(dead.ID+1, 10), "--format", "json")
	var detail struct {
		Operations []opView `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &detail); err != nil || len(detail.Operations) != departmentsAndRol {
		t.Fatalf("runs show --format json: %v, %d operations", err, len(detail.Operations))
	}
	for _, op := range detail.Operations {
		if op.RuleID == "" || !strings.HasPrefix(op.RuleKey, op.RuleID+"|") {
			t.Errorf("create without its rule: %+v", op)
		}
	}
}
