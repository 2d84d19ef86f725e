package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store"
)

// datedHR is a CSV of id, email, dept, status, start, end.
func datedHR(rows ...string) string {
	return "id,email,dept,status,start,end\n" + strings.Join(rows, "\n") + "\n"
}

// The team on 2026-12-07: Sales (Ann, and Bob until 12-10), Support (Dee
// since 12-01 and Hal; Eve left on 12-03), Billing (Gus, and Cid from
// 12-14; Fay from 12-25, beyond the lookahead).
var datedTeam = datedHR(
	"1,ann@example.com,Sales,active,,",
	"2,bob@example.com,Sales,active,,2026-12-10",
	"3,cid@example.com,Billing,active,2026-12-14,",
	"4,dee@example.com,Support,active,2026-12-01,",
	"5,eve@example.com,Support,active,,2026-12-03",
	"6,fay@example.com,Billing,active,2026-12-25,",
	"7,gus@example.com,Billing,active,,",
	"8,hal@example.com,Support,active,,",
)

func datedConfig(edit func(*Config)) Config {
	cfg := Config{
		Skills: SkillsConfig{Rules: []Rule{{ID: "dept", Name: "{{ .dept }}", MinMembers: 2}}},
		Sync:   syncConfig(func(c *SyncConfig) { c.DeleteAfterRuns, c.MaxActiveDropPercent, c.MaxDeletePercent = 1, -1, -1 }),
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// datedRunner is a runner over the test's CSV with start and end dates,
// whose clock reads *now.
func (e *testEnv) datedRunner(cfg Config, now *time.Time) *Runner {
	e.t.Helper()
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Active: `status == "active"`,
		Fields: hrsource.FieldsConfig{ID: "id", Email: "email", StartDate: "start", EndDate: "end"}}, hrsource.Options{Location: cfg.Location})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: e.store, BatchSize: e.batch,
		Logger: slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:    func() time.Time { return *now }}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(9 * time.Hour)
}

func upcomingText(p *Plan) []string {
	var out []string
	if p.Dated == nil {
		return nil
	}
	for _, u := range p.Dated.Upcoming {
		out = append(out, u.Date.String()+" "+u.Action+" "+u.Skill)
	}
	return out
}

func TestDatedPlanAndUpcoming(t *testing.T) {
	t.Parallel()
	e := setup(t, datedTeam, Config{})
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(nil), &now)

	res := e.run(r, store.ModeApply)
	if got := slices.Sorted(func(yield func(string) bool) {
		for n := range e.liveSkills() {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(got, []string{"Sales", "Support"}) {
		t.Fatalf("skills on 12-07: %q (want Sales and Support: Billing has one member in force)", got)
	}
	want := []string{"2026-12-11 pending_delete Sales", "2026-12-14 create Billing"}
	if got := upcomingText(res.Plan); !slices.Equal(got, want) {
		t.Errorf("upcoming %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := res.Plan.RenderText(&buf, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Upcoming (as of 2026-12-07, next 14 days):", "2026-12-14  + Billing  to be created (rule dept, 2 members)", "2026-12-11  - Sales  to become pending deletion (rule dept, had 2 members)"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("text plan lacks %q:\n%s", s, buf.String())
		}
	}
	js, err := json.Marshal(res.Plan)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsOf     string `json:"as_of"`
		Upcoming []struct {
			Date, Action, Skill string
			Members             int
		} `json:"upcoming"`
	}
	if err := json.Unmarshal(js, &doc); err != nil || doc.AsOf != "2026-12-07" || len(doc.Upcoming) != 2 || doc.Upcoming[1].Date != "2026-12-14" || doc.Upcoming[1].Members != 2 || doc.Upcoming[0].Members != 2 {
		t.Errorf("JSON plan: %s (%v)", js, err)
	}

	// A future termination removes nothing before its date: on 12-10
	// (Bob's last day) Sales is still wanted.
	now = day("2026-12-10")
	res = e.run(r, store.ModeApply)
	if res.Plan.HasChanges() || e.liveSkills()["Sales"] == nil {
		t.Errorf("on Bob's last day: changes %+v", res.Plan.Changes)
	}

	// plan --as-of: a dry run as of that day, nothing written, the
	// baseline of the headcount guard unmoved.
	before, err := e.store.LastAcceptedSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	writes := e.writes()
	res, err = r.RunOnce(WithAsOf(context.Background(), 20261214), store.ModePlan, store.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, c := range res.Plan.Changes {
		if got[c.Skill] != ActionDelete {
			got[c.Skill] = c.Action
		}
	}
	if got["Billing"] != ActionCreate || got["Sales"] != ActionDelete || res.Plan.Dated.AsOf != 20261214 || e.writes() != writes {
		t.Errorf("as of 12-14: changes %v, as of %s, %d writes", got, res.Plan.Dated.AsOf, e.writes()-writes)
	}
	if after, err := e.store.LastAcceptedSnapshot(context.Background()); err != nil || after.ID != before.ID {
		t.Errorf("the dry run moved the baseline: %d → %d (%v)", before.ID, after.ID, err)
	}
	// An apply run as of another day is refused before it begins.
	last, err := e.store.LastRun(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(WithAsOf(context.Background(), 20261214), store.ModeApply, store.TriggerManual); !errors.Is(err, errAsOfApply) || e.writes() != writes {
		t.Errorf("apply as of 12-14: %v, %d writes", err, e.writes()-writes)
	}
	if now, err := e.store.LastRun(context.Background()); err != nil || now.ID != last.ID {
		t.Errorf("the refused apply was recorded as run %d (%v)", now.ID, err)
	}
}

func TestDatedPrecreate(t *testing.T) {
	t.Parallel()
	e := setup(t, datedTeam, Config{})
	seedUsers(e, "cid@example.com", "gus@example.com")
	now := day("2026-12-07")
	cfg := datedConfig(func(c *Config) {
		c.Skills.PrecreateDays = 7
		c.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: -1, KeepUnmatched: true}
	})
	r := e.datedRunner(cfg, &now)
	res := e.run(r, store.ModeApply)
	if e.liveSkills()["Billing"] == nil || !slices.Equal(res.Plan.Dated.Precreated, []string{"Billing"}) {
		t.Fatalf("Billing not created 7 days ahead: precreated %q", res.Plan.Dated.Precreated)
	}
	// Assignments follow who is in force: Gus holds Billing, Cid (who
	// starts on 12-14) not yet.
	held := e.userSkills()
	if !slices.Equal(held["gus@example.com"], []string{"Billing"}) || len(held["cid@example.com"]) != 0 {
		t.Errorf("held on 12-07: %v", held)
	}
	now = day("2026-12-14")
	e.run(r, store.ModeApply)
	if held := e.userSkills(); !slices.Equal(held["cid@example.com"], []string{"Billing"}) {
		t.Errorf("held on 12-14: %v", held)
	}
}

func TestDatedBadDateHoldsDeletes(t *testing.T) {
	t.Parallel()
	e := setup(t, datedTeam, Config{})
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(nil), &now)
	e.run(r, store.ModeApply)
	// Hal's end date turns to garbage: whether Support keeps two members
	// is unknown, so it is not deleted, however many runs pass.
	e.writeHR(strings.Replace(datedTeam, "8,hal@example.com,Support,active,,", "8,hal@example.com,Support,active,,31.12.2026", 1))
	for range 2 {
		res := e.run(r, store.ModeApply)
		if len(res.Plan.Problems) != 1 {
			t.Fatalf("problems %v", res.Plan.Problems)
		}
		p := res.Plan.Problems[0]
		if p.RecordID != "8" || p.Origin != "hr.csv:9" || !strings.Contains(p.Msg, `hr.fields.end_date (column "end"): "31.12.2026"`) {
			t.Errorf("problem %+v", p)
		}
	}
	if e.liveSkills()["Support"] == nil {
		t.Error("Support deleted because of a record whose end date could not be read")
	}
}

func TestDatedConfigValidation(t *testing.T) {
	t.Parallel()
	for _, edit := range []func(*Config){
		func(c *Config) { c.Sync.LookaheadDays = -1 },
		func(c *Config) { c.Skills.PrecreateDays = 400 },
	} {
		if errs := validateDated(datedConfig(edit)); len(errs) != 1 {
			t.Errorf("errors %v", errs)
		}
	}
	if DefaultSyncConfig().LookaheadDays != 14 {
		t.Error("lookahead_days default")
	}
}

// BenchmarkDated100k is the effective dating of a run over 100,000 records
// (2,000 skills), a tenth of them dated: starts and ends spread over the
// next 30 days, so that every day of the 14-day lookahead is a change day
// (and 7 more with precreate_days 7).
func BenchmarkDated100k(b *testing.B) {
	rules, snap, _, _ := bigWorld(b)
	snap.Dated = true
	const today = hrsource.Date(20261207)
	for i := range snap.Records {
		switch i % 20 {
		case 0:
			snap.Records[i].Start = today.AddDays(i / 20 % 30)
		case 1:
			snap.Records[i].End = today.AddDays(i / 20 % 30)
		}
	}
	cfg := Config{Sync: DefaultSyncConfig(), Skills: SkillsConfig{PrecreateDays: 7}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d := &datedRun{rules: rules, cfg: cfg, day: today, snap: snap}
		view := inForce(snap, today)
		desired, err := rules.Desired(view)
		if err != nil {
			b.Fatal(err)
		}
		d.complete(desired)
		if d.plan == nil {
			b.Fatal("not dated")
		}
	}
}

// TestDatedDayInTimezone: the day is the configured zone's. At 23:30 UTC
// on 12-13 it is already 12-14 in Paris, and Cid, who starts on 12-14,
// is in force there.
func TestDatedDayInTimezone(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, datedTeam, Config{})
	now := time.Date(2026, 12, 13, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		loc     *time.Location
		day     hrsource.Date
		billing bool
	}{{nil, 20261213, false}, {paris, 20261214, true}} {
		r := e.datedRunner(datedConfig(func(c *Config) { c.Location = tc.loc }), &now)
		res := e.run(r, store.ModePlan)
		creates := slices.ContainsFunc(res.Plan.Changes, func(c Change) bool { return c.Skill == "Billing" && c.Action == ActionCreate })
		if res.Plan.Dated.AsOf != tc.day || creates != tc.billing {
			t.Errorf("zone %v: as of %s, Billing created %v", tc.loc, res.Plan.Dated.AsOf, creates)
		}
	}
}

// TestDatedUpcomingHeadcountDrop: a wave of terminations on one day (a
// seasonal contract ending at the month's end) makes the first run after
// it fall by more than sync.max_active_drop_percent, and the guard
// refuses it. The plans before say so, with the day and the numbers,
// while there is time to act.
func TestDatedUpcomingHeadcountDrop(t *testing.T) {
	t.Parallel()
	e := setup(t, datedHR(
		"1,ann@example.com,Sales,active,,",
		"2,bob@example.com,Sales,active,,2026-12-31",
		"3,cid@example.com,Sales,active,,2026-12-31",
		"4,dee@example.com,Sales,active,,",
		"5,eve@example.com,Sales,active,,",
		"6,fay@example.com,Sales,active,2026-12-20,",
	), Config{})
	now := day("2026-12-18")
	cfg := datedConfig(func(c *Config) { c.Sync.MaxActiveDropPercent = 20 })
	r := e.datedRunner(cfg, &now)
	res := e.run(r, store.ModePlan)
	var got []string
	for _, w := range res.Plan.Warnings {
		if strings.Contains(w, "max_active_drop_percent") {
			got = append(got, w)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "2027-01-01") || !strings.Contains(got[0], "from 6 to 4 (33.3%)") {
		t.Errorf("warnings %q, want one about 2027-01-01, from 6 to 4 (33.3%%)", res.Plan.Warnings)
	}
	// Off (-1): no warning.
	cfg.Sync.MaxActiveDropPercent = -1
	r = e.datedRunner(cfg, &now)
	for _, w := range e.run(r, store.ModePlan).Plan.Warnings {
		if strings.Contains(w, "max_active_drop_percent") {
			t.Errorf("guard off, yet: %s", w)
		}
	}
}

// TestDatedAsOfIsNotRefusedByTodaysBaseline: plan --as-of the day after a
// wave of terminations, to preview it, shows the plan: the headcount
// guard's baseline is today's, and a drop against it says nothing of the
// day planned (the plans before it warn of the drop instead).
func TestDatedAsOfIsNotRefusedByTodaysBaseline(t *testing.T) {
	t.Parallel()
	e := setup(t, datedHR(
		"1,ann@example.com,Sales,active,,",
		"2,bob@example.com,Sales,active,,2026-12-31",
		"3,cid@example.com,Sales,active,,2026-12-31",
		"4,dee@example.com,Support,active,,",
		"5,eve@example.com,Support,active,,",
	), Config{})
	now := day("2026-12-18")
	r := e.datedRunner(datedConfig(func(c *Config) { c.Sync.MaxActiveDropPercent = 20 }), &now)
	e.run(r, store.ModeApply)
	res, err := r.RunOnce(WithAsOf(context.Background(), 20270101), store.ModePlan, store.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refusal != "" || res.Plan == nil {
		t.Fatalf("plan as of 2027-01-01 refused: %s", res.Refusal)
	}
	if got := upcomingText(res.Plan); len(res.Plan.Changes) == 0 {
		t.Errorf("as of 2027-01-01: no changes (upcoming %q), want Sales to go", got)
	}
}

// TestDatedAsOfWithoutDates: plan --as-of with no date mapped plans as of
// today, and says so rather than pass today's plan off as that day's.
func TestDatedAsOfWithoutDates(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, Config{})
	r := e.runner(datedConfig(nil))
	res, err := r.RunOnce(WithAsOf(context.Background(), 20270101), store.ModePlan, store.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Plan.Warnings, func(w string) bool { return strings.Contains(w, "--as-of") && strings.Contains(w, "start_date") }) {
		t.Errorf("warnings %q: none says --as-of changed nothing", res.Plan.Warnings)
	}
}

// TestDatedRehire: a rehire has two records with one email, the old
// contract ended and the new one not yet started (or started): neither
// out of force record makes the match ambiguous, and the person holds
// the skills of the contract in force.
func TestDatedRehire(t *testing.T) {
	t.Parallel()
	e := setup(t, datedHR(
		"1,ann@example.com,Sales,active,,",
		"2,bob@example.com,Sales,active,,2026-11-30",
		"3,cid@example.com,Support,active,,",
		"4,dee@example.com,Support,active,,",
		"9,bob@example.com,Support,active,2026-12-14,",
	), Config{})
	seedUsers(e, "ann@example.com", "bob@example.com", "cid@example.com", "dee@example.com")
	now := day("2026-12-07")
	cfg := datedConfig(func(c *Config) {
		c.Skills.Rules[0].MinMembers = 1
		c.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: -1}
	})
	r := e.datedRunner(cfg, &now)
	res := e.run(r, store.ModeApply)
	if a := res.Plan.Assignments; a == nil || a.Ambiguous != 0 {
		t.Fatalf("between contracts: assignments %+v", a)
	}
	if held := e.userSkills(); len(held["bob@example.com"]) != 0 || !slices.Equal(held["ann@example.com"], []string{"Sales"}) {
		t.Errorf("between contracts: held %v", held)
	}
	now = day("2026-12-14")
	res = e.run(r, store.ModeApply)
	if a := res.Plan.Assignments; a == nil || a.Ambiguous != 0 {
		t.Fatalf("on the new contract's first day: assignments %+v", a)
	}
	if held := e.userSkills(); !slices.Equal(held["bob@example.com"], []string{"Support"}) {
		t.Errorf("on the new contract's first day: held %v", held)
	}
}

// TestDatedPrecreatedHireCancelled: a skill created ahead of a hire is
// an owned skill like any other: when the hire is cancelled it becomes
// pending deletion and goes after the delete grace; a start date moved
// within skills.precreate_days keeps it.
func TestDatedPrecreatedHireCancelled(t *testing.T) {
	t.Parallel()
	e := setup(t, datedTeam, Config{})
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(func(c *Config) { c.Skills.PrecreateDays = 7 }), &now)
	e.run(r, store.ModeApply)
	if e.liveSkills()["Billing"] == nil {
		t.Fatal("Billing not created ahead of Cid's start")
	}
	// Cid now starts on 12-15, still within 7 days of 12-08: kept.
	now = day("2026-12-08")
	e.writeHR(strings.Replace(datedTeam, "3,cid@example.com,Billing,active,2026-12-14,", "3,cid@example.com,Billing,active,2026-12-15,", 1))
	if res := e.run(r, store.ModeApply); e.liveSkills()["Billing"] == nil || res.Plan.HasChanges() {
		t.Fatalf("start moved within the window: Billing gone or changed: %+v", res.Plan.Changes)
	}
	// The hire is cancelled: the record is gone.
	e.writeHR(strings.Replace(datedTeam, "3,cid@example.com,Billing,active,2026-12-14,\n", "", 1))
	for range 3 {
		e.run(r, store.ModeApply)
	}
	if e.liveSkills()["Billing"] != nil {
		t.Errorf("Billing still there after the hire was cancelled (delete_after_runs 1)")
	}
}

// TestDatedBadDateHoldsOnlyItsSkills: a record whose dates cannot be read
// holds the deletes and removals of the skills it would belong to if it
// were in force, not those of every skill of the organisation (issue 21
// defect 4: hold only what the bad records touch).
func TestDatedBadDateHoldsOnlyItsSkills(t *testing.T) {
	t.Parallel()
	team := datedHR(
		"1,ann@example.com,Sales,active,,",
		"3,cid@example.com,Support,active,,",
		"4,dee@example.com,Support,active,,",
		"7,gus@example.com,Billing,active,,",
	)
	e := setup(t, team, Config{})
	users := seedUsers(e, "ann@example.com", "gus@example.com")
	now := day("2026-12-07")
	cfg := datedConfig(func(c *Config) {
		c.Skills.Rules[0].MinMembers = 1
		c.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: -1}
	})
	r := e.datedRunner(cfg, &now)
	e.run(r, store.ModeApply)
	live := e.liveSkills()
	if live["Sales"] == nil || live["Support"] == nil || live["Billing"] == nil {
		t.Fatalf("skills %v", live)
	}
	// Ann also holds Billing, which her record does not make hers.
	billing := live["Billing"]["id"]
	e.sim.EditUser(users["ann@example.com"], func(u map[string]any) {
		u["skillIds"] = append(u["skillIds"].([]any), billing)
	})

	// Ann's end date turns to garbage and team Support empties.
	e.writeHR(datedHR(
		"1,ann@example.com,Sales,active,,31.12.2026",
		"7,gus@example.com,Billing,active,,",
	))
	res := e.run(r, store.ModeApply)
	if len(res.Plan.Problems) != 1 {
		t.Fatalf("problems %v", res.Plan.Problems)
	}
	if p := res.Plan.Problems[0]; p.RecordID != "1" || p.Origin != "hr.csv:2" || !strings.Contains(p.Msg, `hr.fields.end_date (column "end"): "31.12.2026"`) {
		t.Errorf("problem %+v", p)
	}
	live = e.liveSkills()
	if live["Support"] != nil {
		t.Errorf("Support not deleted on schedule (delete_after_runs 1): a bad date of a Sales record held it; changes %+v", res.Plan.Changes)
	}
	if live["Sales"] == nil {
		t.Error("Sales deleted because of a record whose end date could not be read")
	}
	if held := e.userSkills(); !slices.Equal(held["ann@example.com"], []string{"Sales"}) {
		t.Errorf("ann holds %v, want Sales only (kept for her unreadable dates; Billing is not hers)", held["ann@example.com"])
	}
}

// TestDatedStaleEndDate: a rehire's record that still carries the
// previous employment's termination (end before start) is in force from
// its start date, with a warning naming it; it is no record problem.
func TestDatedStaleEndDate(t *testing.T) {
	t.Parallel()
	e := setup(t, datedHR(
		"1,ann@example.com,Sales,active,,",
		"2,bob@example.com,Sales,active,2026-12-09,2025-06-30",
	), Config{})
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(nil), &now)
	res := e.run(r, store.ModeApply)
	if len(res.Plan.Problems) != 0 {
		t.Errorf("problems %v", res.Plan.Problems)
	}
	want := "record 2 (hr.csv:3): end date 2025-06-30 is before start date 2026-12-09: taken for an earlier employment's (a rehire) and ignored; the record is in force from 2026-12-09"
	if !slices.Contains(res.Plan.Warnings, want) {
		t.Errorf("warnings %q lack %q", res.Plan.Warnings, want)
	}
	if e.liveSkills()["Sales"] != nil {
		t.Error("Sales created before Bob's start (min_members 2)")
	}
	if got := upcomingText(res.Plan); !slices.Equal(got, []string{"2026-12-09 create Sales"}) {
		t.Errorf("upcoming %q", got)
	}
	now = day("2026-12-09")
	e.run(r, store.ModeApply)
	if e.liveSkills()["Sales"] == nil {
		t.Error("Sales not created on Bob's start date: the ignored end date kept him out of force")
	}
}

// TestDatedBadDatesBeyondTheCap: more records with unreadable dates than
// a rule lists still hold only their skills; one the rule cannot evaluate
// (an empty attribute its name reads) holds every skill of the rule.
func TestDatedBadDatesBeyondTheCap(t *testing.T) {
	t.Parallel()
	rows := []string{"3,cid@example.com,Support,active,,", "7,gus@example.com,Billing,active,,"}
	bad := []string{"7,gus@example.com,Billing,active,,"}
	for i := range maxProblemsPerRule + 5 {
		rows = append(rows, fmt.Sprintf("%d,s%d@example.com,Sales,active,,", 100+i, i))
		bad = append(bad, fmt.Sprintf("%d,s%d@example.com,Sales,active,,31.12.2026", 100+i, i))
	}
	e := setup(t, datedHR(rows...), Config{})
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(func(c *Config) { c.Skills.Rules[0].MinMembers = 1 }), &now)
	e.run(r, store.ModeApply)
	if live := e.liveSkills(); live["Sales"] == nil || live["Support"] == nil {
		t.Fatalf("skills %v", live)
	}

	// Support empties; a record with an unreadable date and no team
	// makes rule dept fail: every skill of the rule is held.
	e.writeHR(datedHR(append(slices.Clone(bad), "9,ida@example.com,,active,,tomorrow")...))
	res := e.run(r, store.ModeApply)
	if e.liveSkills()["Support"] == nil {
		t.Fatalf("Support deleted although rule dept could not evaluate record 9: changes %+v", res.Plan.Changes)
	}
	if !slices.ContainsFunc(res.Plan.Problems, func(p RecordProblem) bool { return p.RecordID == "" && strings.HasPrefix(p.Msg, "6 more records") }) {
		t.Errorf("no count of the records beyond the cap: %v", res.Plan.Problems)
	}

	// Without it, the 25 bad Sales records hold Sales only.
	e.writeHR(datedHR(bad...))
	res = e.run(r, store.ModeApply)
	live := e.liveSkills()
	if live["Support"] != nil || live["Sales"] == nil {
		t.Errorf("Support kept or Sales deleted: changes %+v", res.Plan.Changes)
	}
}
