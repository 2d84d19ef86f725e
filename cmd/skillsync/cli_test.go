package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Known credentials: the secrets test looks for them everywhere.
const (
	testClientID      = "skillsync-test-client"
	testClientSecret  = "lp-client-secret-7d3f9a"
	testTriggerToken  = "trigger-token-c41b88e2"
	departmentsAndRol = 14 // IBM sample: 3 departments + 11 department/role pairs of 5+ active people
)

// fixture is one skillsync installation: a simulated LivePerson account,
// a database of its own, the IBM sample as HR file and a config file.
type fixture struct {
	t          *testing.T
	sim        *lpsim.Sim
	srv        *lpsim.Server
	dbURL      string
	hrPath     string
	configPath string
	lookup     func(string) (string, bool)
	httpClient *http.Client // LivePerson's, trusts the simulator
}

// setup builds a fixture; extra is appended to the config file.
func setup(t *testing.T, extra string) *fixture {
	t.Helper()
	sim := lpsim.New(lpsim.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	srv := lpsim.Serve(sim)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, sim: sim, srv: srv, dbURL: pgtest.DB(t), httpClient: srv.Client()}
	dir := t.TempDir()
	f.hrPath = writeFile(t, dir, "hr.csv", string(demoCSV))
	f.configPath = writeFile(t, dir, "config.yaml", fmt.Sprintf(`database: {url: "${DB_URL}"}
liveperson:
  account_id: "12345678"
  domain_api_url: %s
  retry_delays: []
  batch_size: ${BATCH_SIZE}
  auth: {method: oauth2, client_id: %s, client_secret: "${LP_CLIENT_SECRET}"}
hr:
  type: csv
  path: %s
  fields: {id: EmployeeNumber}
  active: 'Attrition == "No"'
skills:
  rules:
    - {id: department, name: "{{ .Department }}", description: "{{ .Department }} staff"}
    - {id: department-role, name: "{{ .Department }} / {{ .JobRole }}", min_members: 5}
server: {listen: "127.0.0.1:0", trigger_token: "${TRIGGER_TOKEN}"}
%s`, srv.URL(), testClientID, f.hrPath, extra))
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret, "TRIGGER_TOKEN", testTriggerToken)
	return f
}

func (f *fixture) env(stdout, stderr *bytes.Buffer) *env {
	return &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, lookupEnv: f.lookup, lpHTTPClient: f.httpClient}
}

// run runs skillsync in-process with the fixture's config.
func (f *fixture) run(args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	var out, errOut bytes.Buffer
	code = runEnv(context.Background(), append(args, "--config", f.configPath), f.env(&out, &errOut))
	return code, out.String(), errOut.String()
}

// mustRun runs and fails the test unless the exit status is want.
func (f *fixture) mustRun(want int, args ...string) (stdout, stderr string) {
	f.t.Helper()
	code, stdout, stderr := f.run(args...)
	if code != want {
		f.t.Fatalf("skillsync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// planJSON is the JSON plan contract.
type planJSON struct {
	FormatVersion int            `json:"format_version"`
	Summary       map[string]int `json:"summary"`
	Changes       []struct {
		Action  string   `json:"action"`
		Skill   string   `json:"skill"`
		Fields  []string `json:"fields"`
		Rule    string   `json:"rule"`
		Members int      `json:"members"`
	} `json:"changes"`
}

func decodePlan(t *testing.T, s string) planJSON {
	t.Helper()
	var p planJSON
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("stdout is not a JSON plan (%v):\n%s", err, s)
	}
	return p
}

func TestPlanSyncRunsAndRelease(t *testing.T) {
	t.Parallel()
	f := setup(t, "")

	out, _ := f.mustRun(exitChanges, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "+ Sales / Sales Executive") || !strings.Contains(out, fmt.Sprintf("%d to create", departmentsAndRol)) {
		t.Errorf("text plan lacks the creates:\n%s", out)
	}
	if n := f.sim.Count("POST", "/api/account/12345678/configuration/le-users/skills"); n != 0 {
		t.Fatalf("plan wrote to LivePerson: %d POSTs", n)
	}

	out, _ = f.mustRun(exitOK, "plan", "--format", "json")
	p := decodePlan(t, out)
	if p.FormatVersion != 1 || p.Summary["create"] != departmentsAndRol || len(p.Changes) != departmentsAndRol {
		t.Fatalf("JSON plan: version %d summary %v, %d changes", p.FormatVersion, p.Summary, len(p.Changes))
	}
	for _, key := range []string{"create", "update", "delete", "pending_delete", "unchanged", "unmanaged_conflict"} {
		if _, ok := p.Summary[key]; !ok {
			t.Errorf("summary lacks %q: %v", key, p.Summary)
		}
	}
	if c := p.Changes[0]; c.Action != "create" || c.Skill == "" || c.Rule == "" || c.Members == 0 || len(c.Fields) == 0 {
		t.Errorf("first change lacks contract fields: %+v", c)
	}

	out, _ = f.mustRun(exitOK, "sync")
	if !regexp.MustCompile(`Run \d+ applied: 14 created`).MatchString(out) {
		t.Errorf("sync output lacks its summary:\n%s", out)
	}
	if n := len(f.sim.Skills(false)); n != departmentsAndRol {
		t.Fatalf("LivePerson has %d skills after sync, want %d", n, departmentsAndRol)
	}
	f.mustRun(exitOK, "plan", "--detailed-exitcode")
	out, _ = f.mustRun(exitOK, "sync", "--format", "json")
	if p := decodePlan(t, out); p.Summary["create"] != 0 || p.Summary["unchanged"] != departmentsAndRol {
		t.Errorf("second sync plan: %v", p.Summary)
	}

	out, _ = f.mustRun(exitOK, "runs")
	if lines := strings.Count(out, "\n"); lines != 6 || !regexp.MustCompile(`manual\s+apply\s+applied\s+14\b`).MatchString(out) {
		t.Errorf("runs table, want a header and 5 runs:\n%s", out)
	}
	out, _ = f.mustRun(exitOK, "runs", "--limit", "2", "--format", "json")
	var runs []runView
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 || runs[0].ID <= runs[1].ID {
		t.Fatalf("runs --format json: %v %+v", err, runs)
	}
	// The first sync is run 3 (after two plans).
	out, _ = f.mustRun(exitOK, "runs", "show", "3")
	ops := regexp.MustCompile(`(?m)^\d+\s+create\s+.*\s+\d+\s+department[-a-z]*\|.*\s+done\s`).FindAllString(out, -1)
	if !regexp.MustCompile(`outcome\s+applied`).MatchString(out) || len(ops) != departmentsAndRol {
		t.Errorf("runs show 3:\n%s", out)
	}
	out, _ = f.mustRun(exitOK, "runs", "show", "3", "--format", "json")
	var detail struct {
		Run        runView  `json:"run"`
		Operations []opView `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &detail); err != nil || detail.Run.ID != 3 || len(detail.Operations) != departmentsAndRol {
		t.Errorf("runs show 3 --format json: %v, %d operations", err, len(detail.Operations))
	}
	_, errOut := f.mustRun(exitError, "runs", "show", "999")
	if !strings.Contains(errOut, "run 999 does not exist") {
		t.Errorf("runs show 999: %s", errOut)
	}

	out, _ = f.mustRun(exitOK, "release", "Sales")
	if !strings.Contains(out, `released "Sales"`) {
		t.Errorf("release output: %s", out)
	}
	out, _ = f.mustRun(exitOK, "plan", "--format", "json")
	if p := decodePlan(t, out); p.Summary["unmanaged_conflict"] != 1 {
		t.Errorf("a released skill still produced by a rule is an unmanaged conflict; summary %v", p.Summary)
	}
	_, errOut = f.mustRun(exitError, "release", "No Such Skill")
	if !strings.Contains(errOut, "not managed by skillsync") {
		t.Errorf("release of an unknown skill: %s", errOut)
	}
}

func TestGuardRefusalExitsThree(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.mustRun(exitOK, "sync")
	// Next export: only the first 100 people, a 92% drop in headcount.
	lines := strings.SplitAfter(string(demoCSV), "\n")
	if err := os.WriteFile(f.hrPath, []byte(strings.Join(lines[:101], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	before := f.sim.Revision()
	for _, args := range [][]string{{"plan", "--detailed-exitcode"}, {"sync"}} {
		_, errOut := f.mustRun(exitRefused, args...)
		if !strings.Contains(errOut, "refused by a guard") {
			t.Errorf("%v: stderr lacks the refusal:\n%s", args, errOut)
		}
	}
	if f.sim.Revision() != before {
		t.Errorf("a refused run changed LivePerson")
	}
	out, _ := f.mustRun(exitOK, "runs", "--format", "json")
	var runs []runView
	if err := json.Unmarshal([]byte(out), &runs); err != nil || runs[0].Outcome != store.OutcomeRefused || runs[0].Error == "" {
		t.Errorf("the refusal is recorded with its reason: %v %+v", err, runs[0])
	}
}

func TestMigrateAndEmptyHistory(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	empty := pgtest.EmptyDB(t)
	f.lookup = envMap("DB_URL", empty, "LP_CLIENT_SECRET", testClientSecret)
	f.mustRun(exitOK, "migrate")
	f.mustRun(exitOK, "migrate") // idempotent
	out, _ := f.mustRun(exitOK, "runs")
	if !strings.Contains(out, "no runs yet") {
		t.Errorf("runs on a fresh database: %s", out)
	}
}

func TestStoreCommandsIgnoreUnrelatedProblems(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	// The HR file only exists on the server: `runs` still works elsewhere.
	if err := os.Remove(f.hrPath); err != nil {
		t.Fatal(err)
	}
	f.mustRun(exitOK, "runs")
	_, errOut := f.mustRun(exitError, "plan")
	if !strings.Contains(errOut, "hr.path:") {
		t.Errorf("plan needs the HR file: %s", errOut)
	}
}

func TestRunInProgressExitsOne(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
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
	defer func() { _ = lock.Release(ctx) }()
	_, errOut := f.mustRun(exitError, "sync")
	if !strings.Contains(errOut, "in progress") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--format", "yaml"}, `--format "yaml"`},
		{[]string{"plan", "--no-such-flag"}, "unknown flag"},
		{[]string{"runs", "show", "abc"}, `run id "abc"`},
		{[]string{"runs", "--limit", "0"}, "--limit 0"},
		{[]string{"release"}, "accepts 1 arg"},
		{[]string{"plan", "--log-level", "loud"}, "log level"},
	}
	for _, tc := range tests {
		_, errOut := f.mustRun(exitError, tc.args...)
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, errOut)
		}
	}
}

func TestHelpHasAnExampleForEveryCommand(t *testing.T) {
	t.Parallel()
	root := newRootCommand(&env{lookupEnv: envMap()})
	seen := 0
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		switch {
		case cmd.Name() == "help" || cmd.Name() == "completion" || cmd.Parent() != nil && cmd.Parent().Name() == "completion":
		case cmd.Name() == "config": // a group: `config check` carries the example
		default:
			seen++
			if strings.TrimSpace(cmd.Example) == "" {
				t.Errorf("%q has no Example in its --help", cmd.CommandPath())
			}
		}
	}
	walk(root)
	if seen < 10 {
		t.Errorf("only %d commands checked", seen)
	}
	var out bytes.Buffer
	code := runEnv(context.Background(), []string{"plan", "--help"}, &env{stdout: &out, stderr: &out, lookupEnv: envMap()})
	if code != 0 || !strings.Contains(out.String(), "--detailed-exitcode") || !strings.Contains(out.String(), "Examples:") {
		t.Errorf("plan --help (exit %d):\n%s", code, out.String())
	}
}

func TestRunsLeftRunningAreMarkedInterrupted(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A process that died mid-run left this one behind.
	dead, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut := f.mustRun(exitOK, "plan")
	if !strings.Contains(errOut, "now marked interrupted") {
		t.Errorf("no warning about the interrupted run:\n%s", errOut)
	}
	r, _, err := st.GetRun(ctx, dead.ID)
	if err != nil || r.Outcome != store.OutcomeInterrupted || r.FinishedAt == nil {
		t.Errorf("the dead run: %+v %v", r, err)
	}
}

func TestRunFailingBeforeItIsRecordedIsLogged(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	ctx := context.Background()
	cfg, _, err := loadConfig(f.configPath, f.lookup)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log, err := newLogger(&logs, "json", "info", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAppWith(ctx, cfg, log, appOptions{env: &env{lpHTTPClient: f.httpClient}, store: st})
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // the database goes away
	res, err := a.runOnce(ctx, store.ModeApply, store.TriggerSchedule)
	if err == nil || res != nil {
		t.Fatalf("a run without its database: %v %v", res, err)
	}
	if !strings.Contains(logs.String(), `"msg":"run failed before it could be recorded"`) {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}
