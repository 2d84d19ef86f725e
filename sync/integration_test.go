package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	testAccount = "12345678"
	skillsPath  = "/api/account/" + testAccount + "/configuration/le-users/skills"
	usersPath   = "/api/account/" + testAccount + "/configuration/le-users/users"
)

// hookSkills wraps the LivePerson client so a test can act between calls
// (a concurrent edit, a cancellation) exactly where it wants.
type hookSkills struct {
	SkillsAPI
	mu           gosync.Mutex
	creates      int
	beforeCreate func(n int, skills []liveperson.Skill)
	afterCreate  func(n int)
	// revs are the revisions the creates were sent under, in order.
	revs []string
}

// sentRev is the revision create n (from 1) was sent under.
func (h *hookSkills) sentRev(n int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.revs[n-1]
}

func (h *hookSkills) CreateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error) {
	h.mu.Lock()
	h.creates++
	h.revs = append(h.revs, rev)
	n, before, after := h.creates, h.beforeCreate, h.afterCreate
	h.mu.Unlock()
	if before != nil {
		before(n, skills)
	}
	out, next, err := h.SkillsAPI.CreateSkills(ctx, rev, skills)
	if after != nil {
		after(n)
	}
	return out, next, err
}

type testEnv struct {
	t      testing.TB
	sim    *lpsim.Sim
	client *liveperson.Client
	skills *hookSkills
	users  UsersAPI
	store  *store.Store
	dbURL  string
	srv    *lpsim.Server
	hrPath string
	cfg    Config
	batch  int
	logger *slog.Logger // for the client and runners; nil: warnings to the test log
	// simOptions adjusts lpsim's options before it starts (nil: defaults).
	simOptions func(*lpsim.Options)
}

type envOption func(*testEnv)

func withBatch(n int) envOption { return func(e *testEnv) { e.batch = n } }

func withLogger(l *slog.Logger) envOption { return func(e *testEnv) { e.logger = l } }

func withSim(f func(*lpsim.Options)) envOption { return func(e *testEnv) { e.simOptions = f } }

// setup starts lpsim, a fresh migrated database and an HR CSV file.
func setup(t testing.TB, csv string, cfg Config, opts ...envOption) *testEnv {
	t.Helper()
	ctx := context.Background()
	e := &testEnv{t: t, cfg: cfg, batch: 50}
	for _, o := range opts {
		o(e)
	}
	simOpts := lpsim.Options{AccountID: testAccount, ClientID: "skillsync", ClientSecret: "s3cret"}
	if e.simOptions != nil {
		e.simOptions(&simOpts)
	}
	sim := lpsim.New(simOpts)
	srv := lpsim.Serve(sim)
	t.Cleanup(srv.Close)
	e.sim, e.srv = sim, srv
	client, err := liveperson.New(liveperson.Config{
		AccountID: testAccount, DomainAPIURL: srv.URL(), BatchSize: e.batch,
		Auth: liveperson.AuthConfig{Method: "oauth2", ClientID: "skillsync", ClientSecret: "s3cret"},
	}, liveperson.Options{HTTPClient: srv.Client(), Logger: e.logger, Delay: func(time.Duration) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	e.client = client
	e.skills = &hookSkills{SkillsAPI: client}
	e.users = client
	e.dbURL = pgtest.DB(t)
	st, err := store.Open(ctx, e.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e.store = st
	e.hrPath = filepath.Join(t.TempDir(), "hr.csv")
	e.writeHR(csv)
	return e
}

func (e *testEnv) writeHR(csv string) {
	e.t.Helper()
	if err := os.WriteFile(e.hrPath, []byte(csv), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) runner(cfg Config) *Runner {
	e.t.Helper()
	return e.runnerWith(cfg, e.store)
}

// runnerWith is runner over another run store.
func (e *testEnv) runnerWith(cfg Config, st RunStore) *Runner {
	e.t.Helper()
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
		Active: `status == "active"`, MultiValue: map[string]string{"langs": ";"}}, hrsource.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	logger := e.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: st, BatchSize: e.batch,
		Logger: logger}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *testEnv) run(r *Runner, mode store.Mode) *Result {
	e.t.Helper()
	res, err := r.RunOnce(context.Background(), mode, store.TriggerManual)
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	return res
}

// liveSkills returns name → skill object of the sim's skills not deleted.
func (e *testEnv) liveSkills() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range e.sim.Skills(false) {
		out[s["name"].(string)] = s
	}
	return out
}

func (e *testEnv) ownedNames() []string {
	e.t.Helper()
	rows, err := e.store.OwnedSkills(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r.ReleasedAt == nil {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out
}

func (e *testEnv) writes() int {
	return e.sim.Count("POST", skillsPath) + e.sim.Count("PUT", skillsPath) + e.sim.Count("DELETE", skillsPath)
}

func hrCSV(rows ...string) string {
	return "id,email,name,dept,role,status,langs\r\n" + strings.Join(rows, "\r\n") + "\r\n"
}

var baseHR = hrCSV(
	"1,ann@example.com,Ann,Sales,Manager,active,German;French",
	"2,bob@example.com,Bob,Sales,Agent,active,German",
	"3,cid@example.com,Cid,Billing,Agent,active,",
	"4,dee@example.com,Dee,Support,Agent,active,French",
	"5,eve@example.com,Eve,Support,Agent,left,",
)

func deptConfig() Config {
	return Config{
		Skills: SkillsConfig{
			Defaults: Settings{MaxWaitTime: ptr(120)},
			Rules: []Rule{
				{ID: "dept", Name: "{{ .dept }}", Description: "{{ .dept }} staff", MinMembers: 1},
				{ID: "lang", Name: "{{ .langs }} speakers", ForEach: "langs"},
			},
			Static: []Static{{Name: "Escalations", Description: "Supervisors on call"}},
		},
		Sync: syncConfig(func(c *SyncConfig) { c.DeleteAfterRuns, c.MaxActiveDropPercent = 2, 60 }),
	}
}

// syncConfig is DefaultSyncConfig changed by edit.
func syncConfig(edit func(*SyncConfig)) SyncConfig {
	c := DefaultSyncConfig()
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestRunCreatesThenNoOp(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r := e.runner(e.cfg)
	want := []string{"Billing", "Escalations", "French speakers", "German speakers", "Sales", "Support"}

	// A dry run first: it plans the creates, makes none, and says so.
	res := e.run(r, store.ModePlan)
	if res.Run.Outcome != store.OutcomePlanned || res.Run.Counts.Create != len(want) || e.writes() != 0 {
		t.Fatalf("dry run %s, counts %+v, %d writes", res.Run.Outcome, res.Run.Counts, e.writes())
	}
	if run, _, err := e.store.GetRun(context.Background(), res.Run.ID); err != nil || run.Outcome != store.OutcomePlanned {
		t.Fatalf("dry run recorded as %s (%v)", run.Outcome, err)
	}
	if last, err := e.store.LastSuccess(context.Background()); err != nil || last != nil {
		t.Errorf("a dry run counts as a success: %+v, %v", last, err)
	}

	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != len(want) {
		t.Fatalf("first run %s, counts %+v (%s)", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	live := e.liveSkills()
	for _, n := range want {
		if live[n] == nil {
			t.Errorf("skill %q not created; have %v", n, live)
		}
	}
	if got := e.ownedNames(); !slices.Equal(got, want) {
		t.Errorf("registry %v, want %v", got, want)
	}
	if d := live["Sales"]["description"]; d != "Sales staff" {
		t.Errorf("description %v", d)
	}
	// One create call for six skills (batch 50).
	if n := e.sim.Count("POST", skillsPath); n != 1 {
		t.Errorf("%d create calls, want 1", n)
	}
	_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != len(want) {
		t.Errorf("%d journal rows, want %d", len(ops), len(want))
	}
	stored, _, _ := e.store.GetRun(context.Background(), res.Run.ID)
	var doc struct {
		FormatVersion int            `json:"format_version"`
		Summary       map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(stored.Plan, &doc); err != nil || doc.FormatVersion != 1 || doc.Summary["create"] != len(want) {
		t.Errorf("stored plan %s: %v", stored.Plan, err)
	}
	for _, op := range ops {
		if op.State != store.OpDone || op.SkillID == nil || op.Action != "create" {
			t.Errorf("journal row %+v", op)
		}
	}

	e.sim.ResetLog()
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeNoChanges || res.Plan.HasChanges() {
		t.Fatalf("second run %s: %+v", res.Run.Outcome, res.Plan.Changes)
	}
	if n := e.sim.Count("GET", skillsPath); n != 1 {
		t.Errorf("second run made %d skills GETs, want exactly 1", n)
	}
	if n := e.writes(); n != 0 {
		t.Errorf("second run made %d writes", n)
	}
	if res.Run.Counts.Unchanged != len(want) {
		t.Errorf("unchanged %d", res.Run.Counts.Unchanged)
	}
	applied := res.Run.ID
	if res = e.run(r, store.ModePlan); res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("dry run after convergence %s: %+v", res.Run.Outcome, res.Plan.Changes)
	}
	if last, err := e.store.LastSuccess(context.Background()); err != nil || last == nil || last.ID != applied {
		t.Errorf("LastSuccess = %+v, %v; want apply run %d", last, err, applied)
	}
}

func TestRunHRChangeLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	e.run(e.runner(e.cfg), store.ModeApply)
	before := e.liveSkills()

	// The name template changes (rename in place), a setting changes
	// (update), and Billing's only member leaves (pending delete).
	cfg := deptConfig()
	cfg.Skills.Rules[0].Name = "{{ .dept }} team"
	cfg.Skills.Defaults.MaxWaitTime = ptr(90)
	e.writeHR(strings.Replace(baseHR, "Billing,Agent,active", "Billing,Agent,left", 1))
	r := e.runner(cfg)
	res := e.run(r, store.ModeApply)
	var renamed, pending []string
	for _, c := range res.Plan.Changes {
		if c.RenamedFrom != "" {
			renamed = append(renamed, c.RenamedFrom+"→"+c.Skill)
		}
		if c.Action == ActionPendingDelete {
			pending = append(pending, c.Skill)
		}
	}
	if !slices.Equal(renamed, []string{"Sales→Sales team", "Support→Support team"}) || !slices.Equal(pending, []string{"Billing"}) {
		t.Fatalf("renamed %v pending %v; plan %+v", renamed, pending, res.Plan.Changes)
	}
	live := e.liveSkills()
	if live["Sales team"]["id"] != before["Sales"]["id"] || live["Sales"] != nil {
		t.Errorf("rename did not keep the id: %v vs %v", live["Sales team"], before["Sales"])
	}
	if fmt.Sprint(live["German speakers"]["maxWaitTime"]) != "90" {
		t.Errorf("maxWaitTime not updated: %v", live["German speakers"]["maxWaitTime"])
	}
	if live["Billing"] == nil {
		t.Fatal("Billing deleted within grace")
	}

	// A dry run shows the delete but does not advance the grace.
	plan := e.run(r, store.ModePlan)
	if s := plan.Plan.Summary(); s.Delete != 1 || plan.Run.Outcome != store.OutcomePlanned {
		t.Errorf("plan run %s, summary %+v", plan.Run.Outcome, s)
	}
	pd, err := e.store.PendingDeletes(ctx)
	if err != nil || len(pd) != 1 || pd[0].ConsecutiveMissingRuns != 1 {
		t.Fatalf("pending after plan run: %+v %v", pd, err)
	}
	if e.liveSkills()["Billing"] == nil {
		t.Fatal("plan run deleted")
	}

	res = e.run(r, store.ModeApply)
	if res.Run.Counts.Delete != 1 || e.liveSkills()["Billing"] != nil {
		t.Fatalf("third run: counts %+v", res.Run.Counts)
	}
	if slices.Contains(e.ownedNames(), "Billing") {
		t.Error("deleted skill still in registry")
	}
	if pd, _ := e.store.PendingDeletes(ctx); len(pd) != 0 {
		t.Errorf("pending after delete: %+v", pd)
	}
	// Billing comes back: created again? No: its name is held by the
	// deleted skill, so it is reported, not failed.
	e.writeHR(baseHR)
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome == store.OutcomeFailed || res.Run.Outcome == store.OutcomePartial {
		t.Fatalf("returning department: %s %s", res.Run.Outcome, res.Run.Error)
	}
}

func TestRunLeavesUnownedSkillAlone(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	ids := e.sim.SeedSkills(map[string]any{"name": "sales", "description": "hand made", "maxWaitTime": 5, "skillOrder": 3, "custom": map[string]any{"x": 1}})
	before := fmt.Sprint(skillByID(e.sim.Skills(true), ids[0]))
	res := e.run(e.runner(e.cfg), store.ModeApply)
	var conflict *Change
	for i, c := range res.Plan.Changes {
		if c.Action == ActionUnmanagedConflict {
			conflict = &res.Plan.Changes[i]
		}
	}
	if conflict == nil || conflict.Skill != "Sales" || conflict.SkillID != ids[0] || res.Run.Counts.UnmanagedConflict != 1 {
		t.Fatalf("conflict %+v counts %+v", conflict, res.Run.Counts)
	}
	if after := fmt.Sprint(skillByID(e.sim.Skills(true), ids[0])); after != before {
		t.Errorf("unowned skill changed:\n%s\n%s", before, after)
	}
	if slices.Contains(e.ownedNames(), "Sales") || slices.Contains(e.ownedNames(), "sales") {
		t.Error("unowned skill registered")
	}
	// With adopt_existing it is taken over, its fields shown and set.
	cfg := deptConfig()
	cfg.Skills.AdoptExisting = true
	res = e.run(e.runner(cfg), store.ModeApply)
	var adopt *Change
	for i, c := range res.Plan.Changes {
		if c.Adopt {
			adopt = &res.Plan.Changes[i]
		}
	}
	if adopt == nil || !slices.Equal(adopt.Fields, []string{"name", "description", "max_wait_time"}) {
		t.Fatalf("adopt %+v", adopt)
	}
	s := skillByID(e.sim.Skills(false), ids[0])
	if s["name"] != "Sales" || s["skillOrder"] == nil || s["custom"] == nil {
		t.Errorf("adopted skill %v", s)
	}
}

func skillByID(skills []map[string]any, id int64) map[string]any {
	for _, s := range skills {
		if fmt.Sprint(s["id"]) == fmt.Sprint(id) {
			return s
		}
	}
	return nil
}

// manyHR is an HR file whose "dept" column has n distinct values.
func manyHR(n int) string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("%d,p%d@example.com,P%d,Team %04d,Agent,active,", i+1, i+1, i+1, i)
	}
	return hrCSV(rows...)
}

func teamConfig() Config {
	return Config{Skills: SkillsConfig{Rules: []Rule{{ID: "team", Name: "{{ .dept }}"}}}, Sync: DefaultSyncConfig()}
}

func TestRunConflictMidApplyRecovers(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(5), teamConfig(), withBatch(2))
	e.run(e.runner(e.cfg), store.ModeApply)
	cfg := teamConfig()
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	// Someone edits the account just before our first update batch: it
	// conflicts, and what is left is planned again from a fresh read.
	e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsPath, ConcurrentEdit: true, Times: 1})
	res := e.run(e.runner(cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Update != 5 {
		t.Fatalf("outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	conflicts := 0
	for _, r := range e.sim.Requests() {
		if r.Status == 409 {
			conflicts++
		}
	}
	if conflicts != 1 {
		t.Errorf("%d conflicts seen by lpsim, want 1", conflicts)
	}
	_, ops, _ := e.store.GetRun(context.Background(), res.Run.ID)
	var replanned int
	for _, op := range ops {
		if op.State == store.OpFailed && strings.Contains(op.Error, "re-planned") {
			replanned++
		}
	}
	if replanned != 2 {
		t.Errorf("%d journal rows marked re-planned, want the 2 of the conflicting batch", replanned)
	}
	if res2 := e.run(e.runner(cfg), store.ModeApply); res2.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("next run %s", res2.Run.Outcome)
	}
}

func TestRunConflictsBeyondRetriesFail(t *testing.T) {
	t.Parallel()
	cfg := teamConfig()
	cfg.Sync.MaxConflictRetries = 2
	e := setup(t, manyHR(3), cfg)
	e.run(e.runner(cfg), store.ModeApply)
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsPath, ConcurrentEdit: true, Times: 10})
	res, err := e.runner(cfg).RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 re-plans") || res.Run.Outcome != store.OutcomeFailed {
		t.Fatalf("err %v outcome %v", err, res.Run.Outcome)
	}
	if n := e.sim.Count("PUT", skillsPath); n != 3 {
		t.Errorf("%d update attempts, want 3 (first + 2 re-plans)", n)
	}
}

func TestRunLostCreateResponse(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(4), teamConfig())
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, LoseResponse: true})
	res := e.run(e.runner(e.cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != 4 {
		t.Fatalf("outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if n := len(e.sim.Skills(true)); n != 4 {
		t.Errorf("%d skills in LivePerson, want 4 (no duplicates)", n)
	}
	if n := e.sim.Count("POST", skillsPath); n != 1 {
		t.Errorf("%d creates sent, want 1 (never repeated blindly)", n)
	}
	if got := e.ownedNames(); len(got) != 4 {
		t.Errorf("registry %v", got)
	}
}

// TestRunCreateAnswerWithoutIDs: LivePerson documents no body for a batch
// create, and the client does not look the skills up when the answer
// lacks them or their ids: the applier does (resolveUnknownCreates), by
// name and only for skills with every field the create sent (madeBy). The
// skills are registered once, nothing is sent twice, and the next run
// finds nothing to do (the written state is what was sent).
func TestRunCreateAnswerWithoutIDs(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{lpsim.CreateResponseEmpty, lpsim.CreateResponseNoIDs} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cfg := teamConfig()
			cfg.Skills.Defaults.MaxWaitTime = ptr(60)
			e := setup(t, manyHR(4), cfg, withSim(func(o *lpsim.Options) { o.CreateResponse = mode }))
			r := e.runner(e.cfg)
			res := e.run(r, store.ModeApply)
			if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != 4 || res.Run.Counts.Failed != 0 {
				t.Fatalf("outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
			}
			if n := e.sim.Count("POST", skillsPath); n != 1 || len(e.sim.Skills(true)) != 4 {
				t.Fatalf("%d creates sent, %d skills; want 1 and 4", n, len(e.sim.Skills(true)))
			}
			if got := e.ownedNames(); len(got) != 4 {
				t.Fatalf("registry %v", got)
			}
			_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range ops {
				if op.State != store.OpDone || op.SkillID == nil {
					t.Errorf("journal row %+v, want done with the skill's id", op)
				}
			}
			res = e.run(r, store.ModeApply)
			if res.Run.Outcome != store.OutcomeNoChanges || e.writes() != 1 {
				t.Fatalf("next run: outcome %s counts %+v, %d writes", res.Run.Outcome, res.Run.Counts, e.writes())
			}
		})
	}
}

// TestRunLostCreateThatDidNotHappen: the connection drops before the
// create is handled. The run cannot tell that from a create whose skill
// the list does not show yet, so it sends nothing again: the rows stay
// sent, and the next run, finding no such skills, creates them. Its list,
// read at the revision the create was sent under, cannot prove the create
// did not happen (it may lag behind it), so the rows stay sent until the
// run after it, which finds the skills managed.
func TestRunLostCreateThatDidNotHappen(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(3), teamConfig())
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Drop: true})
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Failed != 3 || len(e.sim.Skills(true)) != 0 || e.sim.Count("POST", skillsPath) != 1 {
		t.Fatalf("outcome %s %q, %d skills, %d creates sent", res.Run.Outcome, res.Run.Error, len(e.sim.Skills(true)), e.sim.Count("POST", skillsPath))
	}
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || len(e.sim.Skills(true)) != 3 || len(e.ownedNames()) != 3 {
		t.Fatalf("next run: outcome %s %q, %d skills", res.Run.Outcome, res.Run.Error, len(e.sim.Skills(true)))
	}
	if got := resolutions(res.Plan); len(got) != 3 || !strings.HasSuffix(got[0], " unseen") {
		t.Errorf("next run's resolutions %v, want the three unseen", got)
	}
	res = e.run(r, store.ModeApply)
	if got := resolutions(res.Plan); len(got) != 3 || !strings.HasSuffix(got[0], " managed") || res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("the run after: %s, resolutions %v, want the three managed", res.Run.Outcome, got)
	}
}

func TestRunInvalidItemDoesNotBlockBatch(t *testing.T) {
	t.Parallel()
	cfg := teamConfig()
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	e := setup(t, manyHR(4), cfg)
	// Between our read and our write someone creates "team 0002": the
	// batch is refused, the re-read shows a "team 0002" that is not what
	// we sent (its description differs), so it is not taken for ours;
	// the items are sent again one by one: that one is refused, the other
	// three are created.
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			e.sim.SeedSkills(map[string]any{"name": "team 0002", "description": "made by hand"})
		}
	}
	res := e.run(e.runner(e.cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Create != 3 || res.Run.Counts.Failed != 1 {
		t.Fatalf("outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
	_, ops, _ := e.store.GetRun(context.Background(), res.Run.ID)
	var failed []store.Operation
	for _, op := range ops {
		if op.State == store.OpFailed {
			failed = append(failed, op)
		}
	}
	if len(failed) != 1 || failed[0].SkillName != "Team 0002" || failed[0].HTTPStatus == nil || *failed[0].HTTPStatus != 400 ||
		!strings.Contains(failed[0].Error, "already used") {
		t.Errorf("failed ops %+v", failed)
	}
	// Next run: the name is someone else's now, reported not retried.
	res = e.run(e.runner(e.cfg), store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != 1 || s.Create != 0 {
		t.Errorf("next run summary %+v", s)
	}
}

func TestRunCancelledMidApply(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.skills.afterCreate = func(n int) {
		if n == 1 {
			cancel() // shutdown while the first batch is in flight
		}
	}
	r := e.runner(e.cfg)
	res, err := r.RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Outcome != store.OutcomeInterrupted || res.Run.Counts.Create != 2 {
		t.Fatalf("outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
	run, _, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil || run.Outcome != store.OutcomeInterrupted || run.FinishedAt == nil {
		t.Fatalf("recorded run %+v %v", run, err)
	}
	e.skills.afterCreate = nil
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != 4 || len(e.sim.Skills(true)) != 6 {
		t.Fatalf("next run %s %+v, %d skills", res.Run.Outcome, res.Run.Counts, len(e.sim.Skills(true)))
	}
}

func TestRunCreateBatches(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{50, 7} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			t.Parallel()
			e := setup(t, manyHR(1000), teamConfig(), withBatch(batch))
			res := e.run(e.runner(e.cfg), store.ModeApply)
			want := (1000 + batch - 1) / batch
			if n := e.sim.Count("POST", skillsPath); n != want || res.Run.Counts.Create != 1000 {
				t.Errorf("batch %d: %d create calls (want %d), %d created", batch, n, want, res.Run.Counts.Create)
			}
		})
	}
}

func TestRunInProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	r := e.runner(e.cfg)
	lock, err := e.store.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(ctx, store.ModeApply, store.TriggerManual); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("err %v, want ErrRunInProgress", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The in-process guard refuses a concurrent RunOnce on the same runner.
	e.skills.beforeCreate = func(int, []liveperson.Skill) {
		if _, err := r.RunOnce(ctx, store.ModePlan, store.TriggerAPI); !errors.Is(err, ErrRunInProgress) {
			t.Errorf("nested run: %v", err)
		}
	}
	e.run(r, store.ModeApply)
	runs, err := e.store.ListRuns(ctx, 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v %v: a refused concurrent run must not be recorded", runs, err)
	}
}

func TestRunRefusedBySourceHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(10), teamConfig())
	r := e.runner(Config{Skills: teamConfig().Skills, Sync: syncConfig(func(c *SyncConfig) { c.MaxActiveDropPercent = 20 })})
	e.run(r, store.ModeApply)
	e.sim.ResetLog()
	e.writeHR(manyHR(7)) // 30% fewer active people
	res := e.run(r, store.ModeApply)
	// It still plans what it would have applied, for a person to review
	// (design §7.2), and writes nothing.
	if res.Run.Outcome != store.OutcomeRefused || !strings.Contains(res.Refusal, "fell from 10 to 7 (30.0%)") ||
		res.Plan == nil || res.Plan.Summary().PendingDelete != 3 {
		t.Fatalf("outcome %s refusal %q plan %+v", res.Run.Outcome, res.Refusal, res.Plan)
	}
	if e.writes() != 0 {
		t.Error("a refused run wrote to LivePerson")
	}
	last, err := e.store.LastAcceptedSnapshot(ctx)
	if err != nil || last.Active != 10 {
		t.Errorf("last accepted snapshot %+v %v", last, err)
	}
	run, _, _ := e.store.GetRun(ctx, res.Run.ID)
	if run.Outcome != store.OutcomeRefused || !strings.Contains(run.Error, "max_active_drop_percent") {
		t.Errorf("recorded %+v", run)
	}
}

func TestRunBadFeedFails(t *testing.T) {
	t.Parallel()
	e := setup(t, "id,dept\r\n1,Sales\r\n1,Billing\r\n", teamConfig())
	res, err := e.runner(e.cfg).RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
	var ve *hrsource.ValidationError
	if !errors.As(err, &ve) || res.Run.Outcome != store.OutcomeFailed || e.writes() != 0 {
		t.Fatalf("err %v outcome %v", err, res.Run.Outcome)
	}
}

func TestRunDeleteRefusedByDependenciesStaysPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := teamConfig()
	cfg.Sync.DeleteAfterRuns = 1
	cfg.Sync.MaxActiveDropPercent = -1
	cfg.Sync.MaxDeletePercent = -1
	e := setup(t, manyHR(3), cfg)
	r := e.runner(cfg)
	e.run(r, store.ModeApply)
	live := e.liveSkills()
	held := live["Team 0001"]["id"]
	// A user we do not manage holds Team 0001.
	users := e.sim.SeedUsers(map[string]any{"loginName": "x", "email": "x@example.com", "profileIds": []any{1}, "skillIds": []any{held}})
	e.writeHR(hrCSV("1,p1@example.com,P1,Team 0000,Agent,active,"))
	// With assignments off, the users are read (never written) because
	// the plan deletes: the held skill waits, and the plan says who holds it.
	e.sim.ResetLog()
	res := e.run(e.runner(cfg), store.ModePlan)
	var heldBy string
	for _, c := range res.Plan.Changes {
		if c.Skill == "Team 0001" && c.Action == ActionPendingDelete {
			heldBy = c.Reason
		}
	}
	if !strings.Contains(heldBy, fmt.Sprintf("still held by user %d x (not managed by skillsync)", users[0])) ||
		e.sim.Count("GET", usersPath) != 1 || e.sim.Count("PUT", usersPath) != 0 {
		t.Fatalf("Team 0001 pending because %q; users GET %d PUT %d", heldBy, e.sim.Count("GET", usersPath), e.sim.Count("PUT", usersPath))
	}
	// Without the Users API the hold cannot be seen: LivePerson refuses
	// the delete, and the skill stays pending.
	e.users = nil
	r = e.runner(cfg)
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Delete != 1 || res.Run.Counts.Failed != 1 {
		t.Fatalf("outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
	pd, err := e.store.PendingDeletes(ctx)
	if err != nil || len(pd) != 1 || pd[0].SkillName != "Team 0001" {
		t.Fatalf("pending %+v %v", pd, err)
	}
	_, ops, _ := e.store.GetRun(ctx, res.Run.ID)
	var refused bool
	for _, op := range ops {
		refused = refused || (op.State == store.OpFailed && strings.Contains(op.Error, "kept pending"))
	}
	if !refused {
		t.Errorf("journal lacks the refused delete: %+v", ops)
	}
	// Once nothing holds it, the next run deletes it.
	e.sim.EditUser(users[0], func(m map[string]any) { m["skillIds"] = []any{} })
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Delete != 1 || e.liveSkills()["Team 0001"] != nil {
		t.Fatalf("retry: outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
}

func TestRunRepairsDrift(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r := e.runner(e.cfg)
	e.run(r, store.ModeApply)
	id := e.liveSkills()["Sales"]["id"]
	e.sim.EditSkill(int64Of(t, id), func(m map[string]any) { m["name"] = "Sales (temp)"; m["maxWaitTime"] = 5; m["pid"] = "kept" })
	res := e.run(r, store.ModeApply)
	var drift *Change
	for i, c := range res.Plan.Changes {
		if c.Drift {
			drift = &res.Plan.Changes[i]
		}
	}
	if drift == nil || drift.Skill != "Sales" || !slices.Equal(drift.Fields, []string{"name", "max_wait_time"}) {
		t.Fatalf("drift change %+v", drift)
	}
	s := e.liveSkills()["Sales"]
	if s == nil || fmt.Sprint(s["maxWaitTime"]) != "120" || s["pid"] != "kept" || fmt.Sprint(s["id"]) != fmt.Sprint(id) {
		t.Errorf("repaired skill %v", s)
	}
}

func TestRunTransferToSkillsCreatedInTheSameRun(t *testing.T) {
	t.Parallel()
	cfg := deptConfig()
	cfg.Skills.Static = []Static{{Name: "Escalations", Settings: Settings{TransferTo: []string{"Sales", "Support", "Existing"}}}}
	e := setup(t, baseHR, cfg)
	e.sim.SeedSkills(map[string]any{"name": "Existing"})
	r := e.runner(cfg)
	e.run(r, store.ModeApply)
	live := e.liveSkills()
	var want []string
	for _, n := range []string{"Sales", "Support", "Existing"} {
		want = append(want, fmt.Sprint(live[n]["id"]))
	}
	var got []string
	for _, id := range live["Escalations"]["skillTransferList"].([]any) {
		got = append(got, fmt.Sprint(id))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("transfer list %v, want %v", got, want)
	}
	if res := e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("second run %s: %+v", res.Run.Outcome, res.Plan.Changes)
	}
}

func int64Of(t *testing.T, v any) int64 {
	t.Helper()
	var id int64
	if _, err := fmt.Sscan(fmt.Sprint(v), &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// BenchmarkApply1000Creates applies 1,000 creates to lpsim through the
// real client and Postgres (batch_size 50: 20 create calls).
func BenchmarkApply1000Creates(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := setup(b, manyHR(1000), teamConfig())
		r := e.runner(e.cfg)
		b.StartTimer()
		res, err := r.RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
		b.StopTimer()
		if err != nil || res.Run.Counts.Create != 1000 || e.sim.Count("POST", skillsPath) != 20 {
			b.Fatalf("%v: %+v, %d creates", err, res.Run.Counts, e.sim.Count("POST", skillsPath))
		}
		b.StartTimer()
	}
}

// funcSource is a feed whose Read is a function.
type funcSource func(ctx context.Context) (*hrsource.Snapshot, error)

func (f funcSource) Read(ctx context.Context) (*hrsource.Snapshot, error) { return f(ctx) }

// listHook runs before every skills read.
type listHook struct {
	SkillsAPI
	before func()
}

func (h listHook) ListSkillsAt(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, string, error) {
	h.before()
	return h.SkillsAPI.ListSkillsAt(ctx, includeDeleted)
}

// TestRunCancelledBeforeApplyIsInterrupted: a run whose context is
// cancelled (or runs out of time) while it reads the feed, the database or
// LivePerson is recorded interrupted, never failed, whatever words the
// failing step used, and writes nothing.
func TestRunCancelledBeforeApplyIsInterrupted(t *testing.T) {
	t.Parallel()
	shutdown := errors.New("terminated signal received")
	tests := []struct {
		name string
		// deps returns the run's context, feed and skills API.
		deps func(e *testEnv, real RecordSource) (context.Context, RecordSource, SkillsAPI)
	}{
		{"feed read, error wraps the cancellation", func(e *testEnv, _ RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithCancel(context.Background())
			return ctx, funcSource(func(ctx context.Context) (*hrsource.Snapshot, error) {
				cancel()
				return nil, fmt.Errorf("read hr.csv: %w", context.Cause(ctx))
			}), e.skills
		}},
		{"feed read, cancelled with a cause", func(e *testEnv, _ RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, funcSource(func(ctx context.Context) (*hrsource.Snapshot, error) {
				cancel(shutdown)
				return nil, fmt.Errorf("GET https://hr.example.com/people: %w", context.Cause(ctx))
			}), e.skills
		}},
		{"feed read, error in the source's own words", func(e *testEnv, _ RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithCancel(context.Background())
			return ctx, funcSource(func(context.Context) (*hrsource.Snapshot, error) {
				cancel()
				return nil, errors.New("hr.csv line 812: unexpected end of input")
			}), e.skills
		}},
		{"feed read, the caller's deadline passes", func(e *testEnv, _ RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			e.t.Cleanup(cancel)
			return ctx, funcSource(func(ctx context.Context) (*hrsource.Snapshot, error) {
				<-ctx.Done()
				return nil, fmt.Errorf("read hr.csv: %w", ctx.Err())
			}), e.skills
		}},
		{"database read after the feed", func(e *testEnv, real RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, funcSource(func(ctx context.Context) (*hrsource.Snapshot, error) {
				snap, err := real.Read(ctx)
				cancel(shutdown)
				return snap, err
			}), e.skills
		}},
		{"LivePerson skills read", func(e *testEnv, real RecordSource) (context.Context, RecordSource, SkillsAPI) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, real, listHook{SkillsAPI: e.skills, before: func() { cancel(shutdown) }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, baseHR, deptConfig())
			real, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
				Active: `status == "active"`}, hrsource.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, src, skills := tt.deps(e, real)
			r, err := NewRunner(Deps{Source: src, Skills: skills, Store: e.store}, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
			if err != nil || res.Run.Outcome != store.OutcomeInterrupted || !strings.HasPrefix(res.Run.Error, "interrupted: ") {
				t.Fatalf("err %v result %+v", err, res)
			}
			run, _, err := e.store.GetRun(context.Background(), res.Run.ID)
			if err != nil || run.Outcome != store.OutcomeInterrupted || run.FinishedAt == nil {
				t.Errorf("recorded %+v, %v", run, err)
			}
			if n := e.writes(); n != 0 {
				t.Errorf("%d writes to LivePerson", n)
			}
		})
	}
}

// stateStore is the real store with the written skill state kept in
// memory instead: the engine must work with any RunStore, not only with
// what PostgreSQL's jsonb gives back.
type stateStore struct {
	*store.Store
	mu     gosync.Mutex
	states map[int64]SkillState
}

func (s *stateStore) SkillStates(context.Context) (map[int64]SkillState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]SkillState{}
	for k, v := range s.states {
		out[k] = v
	}
	return out, nil
}

func (s *stateStore) SetSkillStates(_ context.Context, states map[int64]SkillState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range states {
		if v == nil {
			delete(s.states, k)
		} else {
			s.states[k] = v
		}
	}
	return nil
}

// TestRunDriftWithWrittenState: a hand edit of a managed field other than
// the name is planned as drift and restored, and a change of the config is
// not drift; with the written state in PostgreSQL and in memory.
func TestRunDriftWithWrittenState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store func(*store.Store) RunStore
	}{
		{"postgres", func(st *store.Store) RunStore { return st }},
		{"memory", func(st *store.Store) RunStore { return &stateStore{Store: st, states: map[int64]SkillState{}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			cfg := deptConfig()
			// Values that JSON encoders write differently (an array, an
			// HTML-escaped character) must not read as edits.
			cfg.Skills.Static = []Static{{Name: "Escalations", Description: "Supervisors <on call> & leads",
				Settings: Settings{TransferTo: []string{"Support", "Sales"}}}}
			e := setup(t, baseHR, cfg)
			rs := tt.store(e.store)
			src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id"},
				Active: `status == "active"`, MultiValue: map[string]string{"langs": ";"}}, hrsource.Options{})
			if err != nil {
				t.Fatal(err)
			}
			runner := func(cfg Config) *Runner {
				r, err := NewRunner(Deps{Source: src, Skills: e.skills, Store: rs}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			r := runner(cfg)
			e.run(r, store.ModeApply)
			if states, err := rs.SkillStates(ctx); err != nil || len(states) != 6 {
				t.Fatalf("%d written states after creating 6 skills (%v)", len(states), err)
			}
			if res := e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges || len(res.Plan.StateFixes) != 0 {
				t.Fatalf("second run %s, changes %+v, state fixes %v", res.Run.Outcome, res.Plan.Changes, res.Plan.StateFixes)
			}

			id := int64Of(t, e.liveSkills()["Sales"]["id"])
			e.sim.EditSkill(id, func(m map[string]any) { m["maxWaitTime"] = 600 })
			res := e.run(r, store.ModePlan)
			if len(res.Plan.Changes) != 1 || !res.Plan.Changes[0].Drift || res.Plan.Changes[0].Reason != "edited outside skillsync: max_wait_time" ||
				res.Run.Outcome != store.OutcomePlanned {
				t.Fatalf("dry run after a hand edit of maxWaitTime: %s %+v", res.Run.Outcome, res.Plan.Changes)
			}
			if fmt.Sprint(e.liveSkills()["Sales"]["maxWaitTime"]) != "600" {
				t.Fatal("a dry run repaired the drift")
			}
			res = e.run(r, store.ModeApply)
			if len(res.Plan.Changes) != 1 || !res.Plan.Changes[0].Drift || res.Run.Counts.Update != 1 {
				t.Fatalf("apply after a hand edit: %s %+v", res.Run.Outcome, res.Plan.Changes)
			}
			if fmt.Sprint(e.liveSkills()["Sales"]["maxWaitTime"]) != "120" {
				t.Error("drift not repaired")
			}
			if res = e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
				t.Errorf("after the repair %s: %+v", res.Run.Outcome, res.Plan.Changes)
			}

			// A config change is an update, not drift; afterwards nothing to do.
			cfg.Skills.Defaults.MaxWaitTime = ptr(60)
			r2 := runner(cfg)
			res = e.run(r2, store.ModeApply)
			if res.Run.Counts.Update != 6 {
				t.Errorf("config change updated %d skills, want 6", res.Run.Counts.Update)
			}
			for _, c := range res.Plan.Changes {
				if c.Drift {
					t.Errorf("config change marked drift: %+v", c)
				}
			}
			if res = e.run(r2, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
				t.Errorf("then %s: %+v", res.Run.Outcome, res.Plan.Changes)
			}
		})
	}
}

func TestRunDeleteBudgetAndPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := teamConfig()
	cfg.Sync = syncConfig(func(c *SyncConfig) {
		c.DeleteAfterRuns, c.MaxDeletes, c.MaxDeletePercent, c.MaxActiveDropPercent = 1, 1, -1, -1
	})
	e := setup(t, manyHR(4), cfg)
	e.run(e.runner(cfg), store.ModeApply)

	// Three teams disappear and a new one appears.
	e.writeHR(hrCSV("1,p1@example.com,P1,Team 0000,Agent,active,", "9,p9@example.com,P9,Team 0009,Agent,active,"))
	// upsert-only: the new team is created, nothing is deleted or pending.
	up := cfg
	up.Sync.Policy = PolicyUpsertOnly
	res := e.run(e.runner(up), store.ModeApply)
	if s := res.Plan.Summary(); s.Create != 1 || s.Delete+s.PendingDelete != 0 || len(e.liveSkills()) != 5 {
		t.Fatalf("upsert-only: %+v, %d live", s, len(e.liveSkills()))
	}
	if pd, _ := e.store.PendingDeletes(ctx); len(pd) != 0 {
		t.Errorf("upsert-only left pending deletes %+v", pd)
	}
	// sync with max_deletes 1: one delete per run, the rest pending.
	for run, left := range []int{4, 3, 2} {
		res = e.run(e.runner(cfg), store.ModeApply)
		if s := res.Plan.Summary(); s.Delete != 1 || s.PendingDelete != 2-run || len(e.liveSkills()) != left {
			t.Fatalf("sync run %d: %+v, %d live", run+1, s, len(e.liveSkills()))
		}
	}
	if res = e.run(e.runner(cfg), store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("converged run %s", res.Run.Outcome)
	}
}
