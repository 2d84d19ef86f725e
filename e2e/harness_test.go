package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store/pgtest"
)

// Exit codes of the contract (design.md §4).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitRefused = 3
)

const (
	account    = "12345678"
	skillsPath = "/api/account/" + account + "/configuration/le-users/skills"
	usersPath  = "/api/account/" + account + "/configuration/le-users/users"

	// Credentials the simulator accepts. The secrets reach the binary only
	// through ${VARS} and must never show in its output or its database.
	clientID          = "e2e-client"
	appKey            = "e2e-app-key"
	accessToken       = "e2e-access-token"
	username          = "e2e-bot"
	secret            = "lp-secret-5f2c9e71"
	accessTokenSecret = "lp-token-secret-a83d10"
	password          = "lp-password-c6b7e244"
	triggerToken      = "trigger-token-90d1f3"
)

// authMethods are the three authentication methods of liveperson.auth.
var authMethods = []string{"oauth2", "oauth1", "login"}

func authYAML(method string) string {
	switch method {
	case "oauth2":
		return `{method: oauth2, client_id: ` + clientID + `, client_secret: "${LP_SECRET}"}`
	case "oauth1":
		return `{method: oauth1, app_key: ` + appKey + `, secret: "${LP_SECRET}", access_token: ` + accessToken + `, access_token_secret: "${LP_TOKEN_SECRET}"}`
	case "login":
		return `{method: login, username: ` + username + `, password: "${LP_PASSWORD}"}`
	}
	panic("unknown auth method " + method)
}

// hookFunc intercepts a request to the simulator (lpsim.Server.Intercept);
// next is the simulator. It is for faults lpsim.Fault cannot express:
// holding a request, killing the client while its create is answered.
type hookFunc = func(w http.ResponseWriter, r *http.Request, next http.Handler)

// newLPServer serves a simulator with the suite's account and credentials,
// and writes its certificate to a file for the binary's SSL_CERT_FILE.
func newLPServer(t testing.TB, opts lpsim.Options) (srv *lpsim.Server, certFile string) {
	t.Helper()
	opts.AccountID = account
	opts.ClientID, opts.ClientSecret = clientID, secret
	opts.AppKey, opts.Secret, opts.AccessToken, opts.AccessTokenSecret = appKey, secret, accessToken, accessTokenSecret
	opts.Username, opts.Password = username, password
	srv = lpsim.Serve(lpsim.New(opts))
	t.Cleanup(srv.Close)
	certFile = filepath.Join(t.TempDir(), "lpsim.pem")
	if err := os.WriteFile(certFile, srv.CertificatePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, certFile
}

// isWrite says whether a logged request changed, or tried to change,
// skills or users.
func isWrite(r lpsim.Request) bool {
	return r.Method != http.MethodGet && (strings.HasPrefix(r.Path, skillsPath) || strings.HasPrefix(r.Path, usersPath))
}

func writes(sim *lpsim.Sim) []lpsim.Request {
	var out []lpsim.Request
	for _, r := range sim.Requests() {
		if isWrite(r) {
			out = append(out, r)
		}
	}
	return out
}

// person is one row of the generated HR file.
type person struct {
	ID, Email, Dept, Team, Status string
}

// staff returns perTeam active people in each of teams teams; team i is
// "Team %04d" in department "Dept %02d" (i mod 10). Ids start at from.
func staff(teams, perTeam, from int) []person {
	out := make([]person, 0, teams*perTeam)
	for i := range teams {
		for j := range perTeam {
			id := from + i*perTeam + j
			out = append(out, person{ID: fmt.Sprint(id), Email: fmt.Sprintf("p%d@example.com", id),
				Dept: fmt.Sprintf("Dept %02d", i%10), Team: fmt.Sprintf("Team %04d", i), Status: "active"})
		}
	}
	return out
}

func hrCSV(ps []person) []byte {
	var b bytes.Buffer
	b.WriteString("id,email,dept,team,status\r\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\r\n", p.ID, p.Email, p.Dept, p.Team, p.Status)
	}
	return b.Bytes()
}

// skillName is the name the fixture's rule gives a person's team.
func skillName(p person) string { return p.Dept + " / " + p.Team }

// fixture is one skillsync installation: a simulated LivePerson account,
// a database, an HR file and a configuration file, used by the binary.
type fixture struct {
	t       testing.TB
	dir     string
	events  *notifier // a child wrote output or exited
	lp      *lpsim.Server
	sim     *lpsim.Sim
	dbURL   string
	hrPath  string
	cfgPath string
	env     []string
}

// options shape a fixture.
type options struct {
	auth   string        // default oauth2
	dbURL  string        // default: pgtest.DB
	sim    lpsim.Options // account and credentials are filled in
	people []person      // default: staff(20, 2, 1)
	batch  int           // liveperson.batch_size, default 10
	// extra is appended to the configuration file (top-level keys).
	extra string
	// sync replaces the sync: section's body.
	sync string
	// fields replaces hr.fields (default {id: id, email: email}).
	fields string
	// rules replaces the skills.rules list, indented as its items are
	// (default: one rule, id team, naming a skill after dept and team).
	rules string
}

func setup(t testing.TB, o options) *fixture {
	t.Helper()
	if o.auth == "" {
		o.auth = "oauth2"
	}
	if o.dbURL == "" {
		o.dbURL = pgtest.DB(t)
	}
	if o.people == nil {
		o.people = staff(20, 2, 1)
	}
	if o.batch == 0 {
		o.batch = 10
	}
	if o.sync == "" {
		o.sync = "{max_deletes: 1000, max_delete_percent: 100, delete_after_runs: 1}"
	}
	if o.fields == "" {
		o.fields = "{id: id, email: email}"
	}
	if o.rules == "" {
		o.rules = `    - id: team
      name: "{{ .dept }} / {{ .team }}"
      description: "{{ .team }} of {{ .dept }}"
`
	}
	lp, certFile := newLPServer(t, o.sim)
	f := &fixture{t: t, dir: t.TempDir(), events: newNotifier(), lp: lp, sim: lp.Sim, dbURL: o.dbURL}
	f.hrPath = filepath.Join(f.dir, "hr.csv")
	f.writeHR(o.people)
	f.cfgPath = filepath.Join(f.dir, "config.yaml")
	cfg := fmt.Sprintf(`# written by the e2e suite
schedule: "@every 1h"
database: {url: "${E2E_DATABASE_URL}"}
log: {format: json, level: info}
server: {listen: "127.0.0.1:0", trigger_token: "${E2E_TRIGGER_TOKEN}"}
liveperson:
  account_id: %q
  domain_api_url: %s
  batch_size: %d
  timeout: 30s
  retry_delays: [50ms, 100ms, 150ms]   # LivePerson's 5s, 10s, 15s, scaled
  auth: %s
hr:
  type: csv
  path: %s
  fields: %s
  active: 'status == "active"'
skills:
  rules:
%ssync: %s
%s`, account, lp.URL(), o.batch, authYAML(o.auth), f.hrPath, o.fields, o.rules, o.sync, o.extra)
	if err := os.WriteFile(f.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.env = childEnv(certFile, "E2E_DATABASE_URL="+o.dbURL, "LP_SECRET="+secret,
		"LP_TOKEN_SECRET="+accessTokenSecret, "LP_PASSWORD="+password, "E2E_TRIGGER_TOKEN="+triggerToken)
	return f
}

// childEnv is the binary's environment: ours without anything that would
// change its configuration, plus SSL_CERT_FILE naming lpsim's certificate
// (Go on Linux reads its roots from there) and vars.
func childEnv(certFile string, vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SKILLSYNC_") || k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "SSL_CERT_FILE="+certFile), vars...)
}

func (f *fixture) writeHR(ps []person) {
	f.t.Helper()
	f.writeHRBytes(hrCSV(ps))
}

func (f *fixture) writeHRBytes(b []byte) {
	f.t.Helper()
	// Write and rename, as an export job should, so that a daemon reading
	// the file meanwhile sees the old or the new one, never half of it.
	tmp := f.hrPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, f.hrPath); err != nil {
		f.t.Fatal(err)
	}
}

// result is how one command ended.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	// wall is the command's duration and maxRSS its peak resident set
	// size in bytes (getrusage of the child).
	wall   time.Duration
	maxRSS int64
}

func (r result) String() string {
	return fmt.Sprintf("skillsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

func (f *fixture) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, append(args, "--config", f.cfgPath)...)
	cmd.Env = f.env
	cmd.Dir = f.dir
	// Should the test binary die, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// run runs the binary to its end (two minutes at most).
func (f *fixture) run(args ...string) result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := f.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String(), wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.code = ee.ExitCode()
	default:
		f.t.Fatalf("skillsync %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	f.checkNoSecrets(res.stdout, res.stderr)
	return res
}

// mustRun runs the binary and fails the test unless it exits with want.
func (f *fixture) mustRun(want int, args ...string) result {
	f.t.Helper()
	res := f.run(args...)
	if res.code != want {
		f.t.Fatalf("want exit %d, got %s", want, res)
	}
	return res
}

func (f *fixture) checkNoSecrets(outputs ...string) {
	f.t.Helper()
	for _, out := range outputs {
		for _, s := range []string{secret, accessTokenSecret, password, triggerToken} {
			if strings.Contains(out, s) {
				f.t.Errorf("a secret appears in skillsync's output:\n%s", out)
			}
		}
	}
}

// notifier tells waiters that something they may be waiting for has
// happened: a child wrote output or exited.
type notifier struct {
	mu gosync.Mutex
	ch chan struct{} // closed and replaced on each notify
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

// next returns a channel closed by the next notify.
func (n *notifier) next() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}

// await evaluates cond now and after each notification until it holds
// (true) or timeout passes (false). Conditions on what the binary does,
// including its effect on lpsim or the database, are followed by a log
// line, so nothing polls.
func (n *notifier) await(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := n.next() // before cond: a change while it runs is not missed
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// waitUntil is await that fails the test on timeout.
func (f *fixture) waitUntil(timeout time.Duration, what string, cond func() bool) {
	f.t.Helper()
	if !f.events.await(timeout, cond) {
		f.t.Fatalf("timed out after %s waiting until %s", timeout, what)
	}
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu     gosync.Mutex
	buf    bytes.Buffer
	events *notifier
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	b.events.notify()
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a binary running in the background (the daemon, or a sync to
// be killed).
type proc struct {
	t      testing.TB
	f      *fixture
	args   []string
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{}
	code   int // valid once done is closed; -1 when killed by a signal
}

func (f *fixture) start(args ...string) *proc {
	f.t.Helper()
	p := &proc{t: f.t, f: f, args: args, done: make(chan struct{})}
	p.stdout.events, p.stderr.events = f.events, f.events
	p.cmd = f.command(context.Background(), args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start skillsync %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := p.cmd.Wait()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.done)
		f.events.notify()
	}()
	f.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		f.checkNoSecrets(p.stdout.String(), p.stderr.String())
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(timeout time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.kill()
		p.t.Fatalf("skillsync %s did not exit within %s of SIGTERM\nstderr:\n%s", strings.Join(p.args, " "), timeout, p.stderr.String())
		return -1
	}
}

// logLines returns the JSON log lines written so far.
func (p *proc) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// logged returns the log lines whose msg is msg.
func (p *proc) logged(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range p.logLines() {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// addr waits for the daemon's start-up line and returns its HTTP address.
func (p *proc) addr() string {
	p.t.Helper()
	var addr string
	p.f.waitUntil(30*time.Second, "the daemon logs that it started", func() bool {
		if p.exited() {
			p.t.Fatalf("the daemon exited with %d:\n%s", p.code, p.stderr.String())
		}
		for _, l := range p.logged("skillsync started") {
			addr, _ = l["listen"].(string)
		}
		return addr != ""
	})
	return addr
}

// runJSON is an element of `skillsync runs --format json`.
type runJSON struct {
	ID         int64          `json:"id"`
	Trigger    string         `json:"trigger"`
	Mode       string         `json:"mode"`
	Outcome    string         `json:"outcome"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	Counts     map[string]int `json:"counts"`
	Error      string         `json:"error"`
}

type opJSON struct {
	Seq        int       `json:"seq"`
	Action     string    `json:"action"`
	Skill      string    `json:"skill"`
	SkillID    *int64    `json:"skill_id"`
	State      string    `json:"state"`
	HTTPStatus *int      `json:"http_status"`
	Error      string    `json:"error"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type runDetailJSON struct {
	Run        runJSON         `json:"run"`
	Plan       json.RawMessage `json:"plan"`
	Operations []opJSON        `json:"operations"`
}

// runs returns the run history, oldest first.
func (f *fixture) runs() []runJSON {
	f.t.Helper()
	res := f.mustRun(exitOK, "runs", "--limit", "1000", "--format", "json")
	var runs []runJSON
	if err := json.Unmarshal([]byte(res.stdout), &runs); err != nil {
		f.t.Fatalf("runs --format json: %v\n%s", err, res.stdout)
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

func (f *fixture) runShow(id int64) runDetailJSON {
	f.t.Helper()
	res := f.mustRun(exitOK, "runs", "show", fmt.Sprint(id), "--format", "json")
	var d runDetailJSON
	if err := json.Unmarshal([]byte(res.stdout), &d); err != nil {
		f.t.Fatalf("runs show %d --format json: %v\n%s", id, err, res.stdout)
	}
	return d
}

// planJSON is the JSON plan of the contract (design.md §4).
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

func decodePlan(t testing.TB, res result) planJSON {
	t.Helper()
	var p planJSON
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("stdout is not a JSON plan (%v): %s", err, res)
	}
	if p.FormatVersion != 1 {
		t.Errorf("format_version %d, want 1", p.FormatVersion)
	}
	return p
}

// liveSkills returns the account's non-deleted skills by name.
func liveSkills(sim *lpsim.Sim) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range sim.Skills(false) {
		out[s["name"].(string)] = s
	}
	return out
}

// checkConverged fails unless the account holds exactly one live skill per
// team of ps (plus the unowned skills in keep, unchanged) and a plan finds
// nothing to do.
func (f *fixture) checkConverged(ps []person, keep map[int64]string) {
	f.t.Helper()
	want := map[string]bool{}
	for _, p := range ps {
		if p.Status == "active" {
			want[skillName(p)] = true
		}
	}
	names := map[string]int{}
	for _, s := range f.sim.Skills(false) {
		names[strings.ToLower(s["name"].(string))]++
	}
	for n, c := range names {
		if c > 1 {
			f.t.Errorf("skill %q exists %d times", n, c)
		}
	}
	live := liveSkills(f.sim)
	for n := range want {
		if live[n] == nil {
			f.t.Errorf("skill %q is missing", n)
		}
	}
	if len(live) != len(want)+len(keep) {
		f.t.Errorf("the account has %d skills, want %d of ours and %d unowned", len(live), len(want), len(keep))
	}
	f.checkUntouched(keep)
	p := decodePlan(f.t, f.mustRun(exitOK, "plan", "--format", "json", "--detailed-exitcode"))
	if p.Summary["create"]+p.Summary["update"]+p.Summary["delete"]+p.Summary["unmanaged_conflict"]+p.Summary["assign"]+p.Summary["unassign"] != 0 {
		f.t.Errorf("not converged: the plan after the sync is %v", p.Summary)
	}
}

// seedUnowned adds skills made by hand in LivePerson; it returns each id
// with the skill as stored, to compare later.
func seedUnowned(sim *lpsim.Sim, names ...string) map[int64]string {
	out := map[int64]string{}
	for _, n := range names {
		ids := sim.SeedSkills(map[string]any{"name": n, "description": "made by hand", "maxWaitTime": 42, "skillOrder": 7})
		out[ids[0]] = ""
	}
	for _, s := range sim.Skills(true) {
		if _, ok := out[s["id"].(int64)]; ok {
			out[s["id"].(int64)] = fmt.Sprint(s)
		}
	}
	return out
}

// checkUntouched fails if a skill skillsync does not own was changed or
// written to.
func (f *fixture) checkUntouched(keep map[int64]string) {
	f.t.Helper()
	now := map[int64]string{}
	for _, s := range f.sim.Skills(true) {
		now[s["id"].(int64)] = fmt.Sprint(s)
	}
	for id, was := range keep {
		if now[id] != was {
			f.t.Errorf("unowned skill %d changed:\nwas %s\nnow %s", id, was, now[id])
		}
	}
	// A write of unchanged content leaves no trace in the skill: look at
	// what each skill write stored (batches name no id in their path).
	for _, r := range writes(f.sim) {
		if !strings.HasPrefix(r.Path, skillsPath) {
			continue
		}
		for _, id := range r.IDs {
			if _, ok := keep[id]; ok {
				f.t.Errorf("skillsync wrote to unowned skill %d: %s %s", id, r.Method, r.Path)
			}
		}
	}
}

// seedAgents adds one LivePerson user per person, matched by e-mail, each
// holding one unowned skill (which skillsync must leave alone) and no other.
func seedAgents(sim *lpsim.Sim, ps []person, keep map[int64]string) {
	var own int64
	for id, s := range seedUnowned(sim, "Agents' own") {
		own, keep[id] = id, s
	}
	users := make([]map[string]any, len(ps))
	for i, p := range ps {
		users[i] = map[string]any{"loginName": "agent" + p.ID, "email": p.Email, "nickname": "Agent " + p.ID,
			"profileIds": []any{1}, "skillIds": []any{own}}
	}
	sim.SeedUsers(users...)
}

// checkAssignments fails unless every agent holds exactly the skill of its
// team plus the unowned skill it was seeded with.
func (f *fixture) checkAssignments(ps []person) {
	f.t.Helper()
	byName := map[string]int64{}
	for _, s := range f.sim.Skills(false) {
		byName[s["name"].(string)] = s["id"].(int64)
	}
	team := map[string]int64{}
	for _, p := range ps {
		team[p.Email] = byName[skillName(p)]
	}
	own := byName["Agents' own"]
	for _, u := range f.sim.Users() {
		want := []int64{own, team[u["email"].(string)]}
		slices.Sort(want)
		var got []int64
		ids, _ := u["skillIds"].([]any)
		for _, id := range ids {
			n, err := strconv.ParseInt(fmt.Sprint(id), 10, 64)
			if err != nil {
				f.t.Fatalf("user %v: skill id %v", u["id"], id)
			}
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			f.t.Errorf("user %v (%v) holds skills %v, want %v", u["id"], u["email"], got, want)
		}
	}
}

// checkDBNoSecrets fails if a configured secret appears in any row of the
// database skillsync used.
func (f *fixture) checkDBNoSecrets() {
	f.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.dbURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	for _, table := range tables {
		var dump *string
		if err := conn.QueryRow(ctx, "SELECT string_agg(t::text, E'\\n') FROM "+pgx.Identifier{table}.Sanitize()+" t").Scan(&dump); err != nil {
			f.t.Fatal(err)
		}
		if dump != nil {
			for _, s := range []string{secret, accessTokenSecret, password, triggerToken} {
				if strings.Contains(*dump, s) {
					f.t.Errorf("a secret is stored in table %s", table)
				}
			}
		}
	}
	if len(tables) < 3 {
		f.t.Errorf("only tables %v in the database", tables)
	}
}
