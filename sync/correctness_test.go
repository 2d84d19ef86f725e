package sync

// Tests of issue 21 (data correctness): one or more per defect, named
// TestDefectN..., each failing on the code before its fix.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// runnerHR is runner with the HR source configured by hr (the fields,
// active expression and multi-value columns of the test's CSV).
func (e *testEnv) runnerHR(cfg Config, hr hrsource.Config) *Runner {
	e.t.Helper()
	hr.Type, hr.Path = "csv", e.hrPath
	src, err := hrsource.New(hr, hrsource.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	logger := e.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: e.store, BatchSize: e.batch, Logger: logger}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// roleHR is a CSV of id, email, name, dept, role, status.
func roleHR(rows ...string) string {
	return "id,email,name,dept,role,status\r\n" + strings.Join(rows, "\r\n") + "\r\n"
}

var roleFields = hrsource.Config{Fields: hrsource.FieldsConfig{ID: "id", Email: "email"}, Active: `status == "active"`}

func roleConfig(name string) Config {
	return Config{
		Skills: SkillsConfig{
			Defaults: Settings{MaxWaitTime: ptr(120)},
			Rules:    []Rule{{ID: "role", Name: name, MinMembers: 1}},
		},
		Sync:        syncConfig(func(c *SyncConfig) { c.DeleteAfterRuns, c.MaxDeletePercent, c.MaxActiveDropPercent = 1, -1, -1 }),
		Assignments: AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: -1},
	}
}

// skillIDOf returns the id of the live skill named name (0: none).
func (e *testEnv) skillIDOf(name string) int64 {
	if s := e.liveSkills()[name]; s != nil {
		return s["id"].(int64)
	}
	return 0
}

// Defect 1: a template change that merges two groups keeps the skill whose
// name already matches, whatever the order of the feed.
func TestDefect1MergeKeepsTheSkillWhateverTheOrder(t *testing.T) {
	t.Parallel()
	for _, seniorFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("senior first %v", seniorFirst), func(t *testing.T) {
			t.Parallel()
			agent, senior := "1,a@example.com,A,Sales,Agent,active", "2,s@example.com,S,Sales,Senior Agent,active"
			rows := []string{agent, senior}
			if seniorFirst {
				rows = []string{senior, agent}
			}
			cfg := roleConfig("{{ .dept }} / {{ .role }}")
			e := setup(t, roleHR(rows...), cfg)
			seedUsers(e, "a@example.com", "s@example.com")
			e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
			agentID := e.skillIDOf("Sales / Agent")
			if agentID == 0 || e.skillIDOf("Sales / Senior Agent") == 0 {
				t.Fatalf("skills %v", e.liveSkills())
			}
			cfg = roleConfig(`{{ .dept }} / {{ replace "Senior " "" .role }}`)
			r := e.runnerHR(cfg, roleFields)
			for i := range 3 {
				res := e.run(r, store.ModeApply)
				if res.Run.Outcome == store.OutcomePartial || res.Run.Outcome == store.OutcomeFailed {
					t.Fatalf("run %d: %s %s", i, res.Run.Outcome, res.Run.Error)
				}
			}
			if got := e.skillIDOf("Sales / Agent"); got != agentID {
				t.Errorf("Sales / Agent is skill %d, want the original %d; live %v", got, agentID, e.liveSkills())
			}
			if e.skillIDOf("Sales / Senior Agent") != 0 {
				t.Errorf("the merged-away skill is still live")
			}
			want := "map[a@example.com:[Sales / Agent] s@example.com:[Sales / Agent]]"
			if got := fmt.Sprint(e.userSkills()); got != want {
				t.Errorf("users %s, want %s", got, want)
			}
			if res := e.run(r, store.ModePlan); res.Plan.HasChanges() {
				t.Errorf("not converged: %+v", res.Plan.Changes)
			}
		})
	}
}

// Defect 1, second half: a rename onto a name held by a deleted skill is a
// conflict planned as such, not a rename that fails every run.
func TestDefect1RenameChecksDeletedNames(t *testing.T) {
	t.Parallel()
	gone := lpSkill(7, "Sales / Agent", 120)
	gone.Deleted = true
	current := []liveperson.Skill{lpSkill(1, "Sales / Senior Agent", 120), gone}
	p := BuildPlan(PlanInput{
		Desired:  []DesiredSkill{desired("Sales / Agent", "role|Sales|Senior Agent", 120, "2")},
		Current:  current,
		Registry: []store.OwnedSkill{owned(1, "Sales / Senior Agent", "role|Sales|Senior Agent")},
	})
	if len(p.Changes) != 1 || p.Changes[0].Action != ActionUnmanagedConflict || !strings.Contains(p.Changes[0].Reason, "deleted") {
		t.Fatalf("changes %+v", p.Changes)
	}
}

// Defect 2: a skill pending deletion keeps its assignments.
func TestDefect2PendingSkillKeepsItsAssignments(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Tiny", 120), lpSkill(2, "Sales", 120)}
	registry := []store.OwnedSkill{owned(1, "Tiny", "d|Tiny"), owned(2, "Sales", "d|Sales")}
	records := []hrsource.Record{{ID: "1", Email: "a@x", Active: true}}
	users := []liveperson.User{{ID: 101, Email: "a@x", SkillIDs: []int64{1, 2}}}
	d := []DesiredSkill{desired("Sales", "d|Sales", 120, "1")}
	p := BuildPlan(PlanInput{Desired: d, Current: current, Registry: registry, DeleteAfterRuns: 2, RunID: 3})
	if len(p.Changes) != 1 || p.Changes[0].Action != ActionPendingDelete {
		t.Fatalf("changes %+v", p.Changes)
	}
	a := PlanAssignments(p, d, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1})
	if assign, unassign := a.Counts(); assign+unassign != 0 {
		t.Errorf("users %+v: a pending skill lost its members", a.Users)
	}
	// The run that deletes it unassigns it first.
	p = BuildPlan(PlanInput{Desired: d, Current: current, Registry: registry, DeleteAfterRuns: 2, RunID: 4,
		Pending: []store.PendingDelete{{SkillID: 1, SkillName: "Tiny", FirstMissingRun: 3, ConsecutiveMissingRuns: 1}}})
	a = PlanAssignments(p, d, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1})
	if _, unassign := a.Counts(); unassign != 1 {
		t.Errorf("users %+v: the run that deletes Tiny must unassign it", a.Users)
	}
}

// Defect 2, end to end: a team at min_members that loses one person keeps
// its skill's assignments through the grace, and regains nothing when the
// person comes back (nothing was lost).
func TestDefect2TeamKeepsRoutingThroughTheGrace(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Skills.Rules[0].MinMembers = 2
	cfg.Sync.DeleteAfterRuns = 3
	full := roleHR("1,a@example.com,A,Tiny,Agent,active", "2,b@example.com,B,Tiny,Agent,active")
	e := setup(t, full, cfg)
	seedUsers(e, "a@example.com", "b@example.com")
	r := e.runnerHR(cfg, roleFields)
	e.run(r, store.ModeApply)
	e.writeHR(roleHR("1,a@example.com,A,Tiny,Agent,active", "2,b@example.com,B,Tiny,Agent,left"))
	res := e.run(r, store.ModeApply)
	if res.Run.Counts.Unassign != 0 {
		t.Errorf("first run without the skill unassigned %d users", res.Run.Counts.Unassign)
	}
	if got := fmt.Sprint(e.userSkills()); got != "map[a@example.com:[Tiny] b@example.com:[Tiny]]" {
		t.Errorf("users %s", got)
	}
	e.writeHR(full)
	res = e.run(r, store.ModeApply)
	if res.Run.Counts.Assign != 0 || res.Run.Outcome != store.OutcomeApplied && res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("the team's return reassigned %d: %s", res.Run.Counts.Assign, res.Run.Outcome)
	}
}

// Defect 3: removals above assignments.max_changes_percent are all held
// and the run is refused with the numbers, run after run; creates and
// additions still apply. Bots and API users are not in the base.
func TestDefect3RemovalCapHoldsLikeAGuard(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Assignments.MaxChangesPercent = 30
	cfg.Assignments.KeepUnmatched = false
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active",
		"3,c@example.com,C,Sales,Agent,active", "4,d@example.com,D,Sales,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com", "c@example.com", "d@example.com")
	for i := range 10 { // bots and API users: they cannot hold skills
		u := map[string]any{"loginName": fmt.Sprintf("bot%d", i), "email": fmt.Sprintf("bot%d@example.com", i), "profileIds": []any{3}, "skillIds": []any{}}
		if i%2 == 0 {
			u["userTypeId"] = 2
		} else {
			u["isApiUser"] = true
		}
		e.sim.SeedUsers(u)
	}
	r := e.runnerHR(cfg, roleFields)
	if res := e.run(r, store.ModeApply); res.Run.Counts.Assign != 4 {
		t.Fatalf("first run %+v", res.Run.Counts)
	}
	// HR moves to a new domain: nobody matches any more, and a new team
	// (with one person who does match) appears.
	e.writeHR(roleHR("1,a@new.example.com,A,Sales,Agent,active", "2,b@new.example.com,B,Sales,Agent,active",
		"3,c@new.example.com,C,Sales,Agent,active", "4,d@new.example.com,D,Sales,Agent,active",
		"5,bot1@example.com,X,Billing,Agent,active"))
	for i := range 3 {
		res := e.run(r, store.ModeApply)
		if res.Run.Outcome != store.OutcomeRefused || res.Run.Counts.Unassign != 0 {
			t.Fatalf("run %d: %s, counts %+v", i, res.Run.Outcome, res.Run.Counts)
		}
		if !strings.Contains(res.Run.Error, "4 of 4 users would lose skills (100.0%), more than assignments.max_changes_percent (30%)") {
			t.Errorf("reason %q", res.Run.Error)
		}
	}
	// A dry run previews the refusal.
	if res := e.run(r, store.ModePlan); res.Run.Outcome != store.OutcomeRefused || res.Refusal == "" {
		t.Errorf("dry run %s %q", res.Run.Outcome, res.Refusal)
	}
	if got := fmt.Sprint(e.userSkills()); !strings.Contains(got, "a@example.com:[Sales] b@example.com:[Sales] bot0@example.com:[] bot1@example.com:[]") {
		t.Errorf("users %s", got)
	}
	if e.skillIDOf("Billing") == 0 {
		t.Errorf("the create did not go ahead: %v", e.liveSkills())
	}
}

// Defect 4: a rule with more problem records than it lists holds removals
// only for the records it skipped.
func TestDefect4ProblemsHoldOnlyTheirRecords(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Skills.Rules[0].When = `role != "bad" || int(name) > 0`
	rows := []string{"1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active"}
	e := setup(t, roleHR(rows...), cfg)
	seedUsers(e, "a@example.com", "b@example.com")
	r := e.runnerHR(cfg, roleFields)
	e.run(r, store.ModeApply)
	// b moves to Billing; 30 other records fail the rule's expression.
	rows[1] = "2,b@example.com,B,Billing,Agent,active"
	for i := range 30 {
		rows = append(rows, fmt.Sprintf("%d,x%d@example.com,X,Sales,bad,active", 100+i, i))
	}
	e.writeHR(roleHR(rows...))
	res := e.run(r, store.ModeApply)
	if got := fmt.Sprint(e.userSkills()); got != "map[a@example.com:[Sales] b@example.com:[Billing]]" {
		t.Errorf("users %s (kept for problems %d)", got, res.Plan.Assignments.KeptForProblems)
	}
}

// Defect 5: create-only and upsert-only never take a skill away from a
// user, and a skill the policy keeps under its old name is not planned as
// a grant forever.
func TestDefect5PoliciesApplyToAssignments(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com")
	e.run(e.runnerHR(cfg, roleFields), store.ModeApply)

	cfg.Sync.Policy = PolicyUpsertOnly
	e.writeHR(roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,left"))
	res := e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
	if res.Run.Counts.Unassign != 0 || fmt.Sprint(e.userSkills()) != "map[a@example.com:[Sales] b@example.com:[Sales]]" {
		t.Errorf("upsert-only removed skills: %+v %v", res.Run.Counts, e.userSkills())
	}

	cfg.Sync.Policy = PolicyCreateOnly
	cfg.Skills.Rules[0].Name = "{{ .dept }} team"
	e.writeHR(hr)
	r := e.runnerHR(cfg, roleFields)
	for i := range 2 {
		res := e.run(r, store.ModeApply)
		if a, u := res.Plan.Assignments.Counts(); a+u != 0 || res.Plan.HasChanges() {
			t.Errorf("create-only run %d plans %d grants, %d removals: %+v", i, a, u, res.Plan.Assignments.Users)
		}
	}
}

// Defect 6: a rename blocked by a skill made by hand leaves the existing
// skill with its team.
func TestDefect6BlockedRenameKeepsTheTeam(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com", "c@example.com")
	e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
	e.sim.SeedSkills(map[string]any{"name": "Sales team"})
	cfg.Skills.Rules[0].Name = "{{ .dept }} team"
	e.writeHR(roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active", "3,c@example.com,C,Sales,Agent,active"))
	res := e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
	if got := fmt.Sprint(e.userSkills()); got != "map[a@example.com:[Sales] b@example.com:[Sales] c@example.com:[Sales]]" {
		t.Errorf("users %s; plan %+v", got, res.Plan.Assignments.Users)
	}
}

// Defect 7: a team whose skill was deleted gets a skill back when it
// returns.
func TestDefect7ReturningTeamGetsItsSkillBack(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Tiny,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com")
	r := e.runnerHR(cfg, roleFields)
	e.run(r, store.ModeApply)
	e.writeHR(roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Tiny,Agent,left"))
	e.run(r, store.ModeApply)
	if e.skillIDOf("Tiny") != 0 {
		t.Fatalf("Tiny not deleted")
	}
	e.writeHR(hr)
	for i := range 2 {
		res := e.run(r, store.ModeApply)
		if res.Run.Outcome == store.OutcomePartial || res.Plan.Summary().UnmanagedConflict != 0 {
			t.Errorf("run %d: %s, conflicts %d: %+v", i, res.Run.Outcome, res.Plan.Summary().UnmanagedConflict, res.Plan.Changes)
		}
	}
	if got := fmt.Sprint(e.userSkills()); got != "map[a@example.com:[Sales] b@example.com:[Tiny]]" {
		t.Errorf("users %s, skills %v", got, e.liveSkills())
	}
}

// Defect 8: an inactive record (a rehire's old contract) does not make the
// person's match ambiguous.
func TestDefect8InactiveRecordsAreNotAmbiguous(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Sales", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales")}
	d := []DesiredSkill{desired("Sales", "d|Sales", 120, "2")}
	records := []hrsource.Record{{ID: "1", Email: "a@x", Active: false}, {ID: "2", Email: "A@x", Active: true}, {ID: "3", Email: "a@x", Active: false}}
	users := []liveperson.User{{ID: 101, Email: "a@x"}}
	p := BuildPlan(PlanInput{Desired: d, Current: current, Registry: registry})
	a := PlanAssignments(p, d, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1})
	if a.Ambiguous != 0 || len(a.Users) != 1 || a.Users[0].RecordID != "2" || len(a.Users[0].Assign) != 1 {
		t.Errorf("ambiguous %d users %+v", a.Ambiguous, a.Users)
	}
}

// Defect 9: bots and API users are never matched as people.
func TestDefect9BotsAndAPIUsersAreNotPeople(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Sales", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales")}
	d := []DesiredSkill{desired("Sales", "d|Sales", 120, "1", "2", "3")}
	records := []hrsource.Record{{ID: "1", Email: "bot@x", Active: true}, {ID: "2", Email: "api@x", Active: true}, {ID: "3", Email: "p@x", Active: true}}
	raw := func(k, v string) map[string]json.RawMessage { return map[string]json.RawMessage{k: json.RawMessage(v)} }
	users := []liveperson.User{
		{ID: 101, Email: "bot@x", Raw: raw("userTypeId", `2`)},
		{ID: 102, Email: "api@x", Raw: raw("isApiUser", `"true"`)},
		{ID: 103, Email: "p@x", Raw: raw("userTypeId", `"1"`)},
		{ID: 104, Email: "gone@x", SkillIDs: []int64{1}, Raw: raw("isApiUser", `true`)},
	}
	p := BuildPlan(PlanInput{Desired: d, Current: current, Registry: registry})
	a := PlanAssignments(p, d, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1})
	if len(a.Users) != 1 || a.Users[0].UserID != 103 || a.Matched != 1 {
		t.Errorf("matched %d users %+v", a.Matched, a.Users)
	}
}

// Defect 9 / design §7.7: with assignments.agent_profile_ids set, only
// users with one of those profiles are people who get skills.
func TestDefect9AgentProfiles(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Sales", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales")}
	d := []DesiredSkill{desired("Sales", "d|Sales", 120, "1", "2", "3")}
	records := []hrsource.Record{{ID: "1", Email: "agent@x", Active: true}, {ID: "2", Email: "admin@x", Active: true}, {ID: "3", Email: "none@x", Active: true}}
	raw := func(v string) map[string]json.RawMessage {
		return map[string]json.RawMessage{"profileIds": json.RawMessage(v)}
	}
	users := []liveperson.User{{ID: 101, Email: "agent@x", Raw: raw(`[3, "7"]`)}, {ID: 102, Email: "admin@x", Raw: raw(`[3]`)}, {ID: 103, Email: "none@x"}}
	for _, tt := range []struct {
		profiles []int64
		want     string
	}{{nil, "[101 102 103]"}, {[]int64{7}, "[101]"}} {
		p := BuildPlan(PlanInput{Desired: d, Current: current, Registry: registry})
		a := PlanAssignments(p, d, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1, AgentProfileIDs: tt.profiles})
		var got []int64
		for _, u := range a.Users {
			got = append(got, u.UserID)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("profiles %v: users %v, want %s", tt.profiles, got, tt.want)
		}
	}
	if errs := (AssignmentsConfig{AgentProfileIDs: []int64{0}}).Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "assignments.agent_profile_ids[0]") {
		t.Errorf("validate %v", errs)
	}
}

// Defect 10: the planner compares names as the applier does: a skill made
// by hand as "Sales " or "SALES" is a conflict, not a duplicate create.
func TestDefect10NamesCompareAsTheApplierDoes(t *testing.T) {
	t.Parallel()
	for _, hand := range []string{"Sales ", " SALES", "Sales  /  EMEA", "sales /\tEMEA"} {
		want := "Sales"
		if strings.Contains(hand, "EMEA") {
			want = "Sales / EMEA"
		}
		p := BuildPlan(PlanInput{Desired: []DesiredSkill{desired(want, "d|"+want, 120, "1")}, Current: []liveperson.Skill{lpSkill(9, hand, 120)}})
		if len(p.Changes) != 1 || p.Changes[0].Action != ActionUnmanagedConflict {
			t.Errorf("%q vs %q: %+v", hand, want, p.Changes)
		}
	}
}

// Defect 11: a static skill and a rule group of the same name are a
// configuration error naming both.
func TestDefect11StaticAndRuleOfOneName(t *testing.T) {
	t.Parallel()
	rs, err := CompileRules(SkillsConfig{
		Rules:  []Rule{{ID: "dept", Name: "{{ .Department }}"}},
		Static: []Static{{Name: "sales"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rs.Desired(snapshotOf([]string{"id", "Department"}, nil, map[string]string{"id": "1", "Department": "Sales"}))
	if err == nil || !strings.Contains(err.Error(), "skills.static[0]") || !strings.Contains(err.Error(), `"dept"`) {
		t.Errorf("err %v", err)
	}
}

// Defect 12: min_members counts distinct people.
func TestDefect12MinMembersCountsPeople(t *testing.T) {
	t.Parallel()
	rs, err := CompileRules(SkillsConfig{Rules: []Rule{{ID: "lang", Name: "{{ .Languages }} speakers", ForEach: "Languages", MinMembers: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := rs.Desired(snapshotOf([]string{"id", "Languages"}, map[string]string{"Languages": ";"},
		map[string]string{"id": "1", "Languages": "German;german;GERMAN"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Skills) != 0 || ds.Suppressed != 1 {
		t.Errorf("skills %+v suppressed %d", ds.Skills, ds.Suppressed)
	}
}

// Defect 13: names are NFC-normalised before grouping and comparing.
func TestDefect13NamesAreNFC(t *testing.T) {
	t.Parallel()
	rs, err := CompileRules(SkillsConfig{Rules: []Rule{{ID: "dept", Name: "{{ .Department }}"}}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := rs.Desired(snapshotOf([]string{"id", "Department"}, nil,
		map[string]string{"id": "1", "Department": "Caf\u00e9"}, map[string]string{"id": "2", "Department": "Cafe\u0301"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Skills) != 1 || ds.Skills[0].Name != "Caf\u00e9" || len(ds.Skills[0].Members) != 2 {
		t.Errorf("skills %+v", ds.Skills)
	}
	p := BuildPlan(PlanInput{Desired: ds.Skills, Current: []liveperson.Skill{lpSkill(9, "CAFE\u0301", 120)}})
	if len(p.Changes) != 1 || p.Changes[0].Action != ActionUnmanagedConflict {
		t.Errorf("changes %+v", p.Changes)
	}
}

// Defect 14: a group's name, key and description do not depend on the
// order of the feed.
func TestDefect14GroupsDoNotDependOnFeedOrder(t *testing.T) {
	t.Parallel()
	rs, err := CompileRules(SkillsConfig{Rules: []Rule{
		{ID: "dept", Name: "{{ .Department }}", Description: "{{ .Department }} led by {{ .Lead }}"},
		{ID: "role", Name: `{{ .Department }} / {{ replace "Senior " "" .Role }}`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string]string{
		{"id": "1", "Department": "Sales", "Lead": "Ann", "Role": "Agent"},
		{"id": "2", "Department": "sales", "Lead": "Bob", "Role": "Senior Agent"},
		{"id": "3", "Department": "SALES", "Lead": "Cid", "Role": "Agent"},
	}
	var first string
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		ds, err := rs.Desired(snapshotOf([]string{"id", "Department", "Lead", "Role"}, nil, rows...))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ds)
		if i == 0 {
			first = string(b)
		} else if string(b) != first {
			t.Fatalf("order %d gives\n%s\nnot\n%s", i, b, first)
		}
	}
}

// Defect 16: transfer_to naming a skill renamed in the same run resolves to
// that skill.
func TestDefect16TransferToARenamedSkill(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Assignments.Enabled = false
	cfg.Skills.Static = []Static{{Name: "Router", Settings: Settings{TransferTo: []string{"Sales"}}}}
	hr := roleHR("1,a@example.com,A,Sales,Agent,active")
	e := setup(t, hr, cfg)
	e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
	sales := e.skillIDOf("Sales")
	cfg.Skills.Rules[0].Name = "{{ .dept }} team"
	cfg.Skills.Static[0].Settings.TransferTo = []string{"Sales team"}
	res := e.run(e.runnerHR(cfg, roleFields), store.ModeApply)
	router := e.liveSkills()["Router"]
	if got := fmt.Sprint(router["skillTransferList"]); got != fmt.Sprintf("[%d]", sales) || len(res.Plan.Warnings) != 0 {
		t.Errorf("Router transfers to %s, want [%d]; warnings %q", got, sales, res.Plan.Warnings)
	}
}

// Issue 11, defect 2: a user update never blanks the fields the Users API
// masks on read (fullName, employeeId): they are filled from HR, or the
// user is not written and the plan says so.
func TestAssignmentsNeverBlankMaskedFields(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Assignments.KeepUnmatched = false
	hr := "id,email,name,empno,dept,status\r\n" +
		"1,a@example.com,Ann Able,E-1,Sales,active\r\n" + // filled from HR
		"2,b@example.com,Bob Bell,,Sales,active\r\n" + // no employee id in HR: skipped
		"4,d@example.com,,,Sales,active\r\n" // nothing masked on d: written as read
	e := setup(t, hr, cfg)
	seed := func(login string, extra map[string]any) int64 {
		u := map[string]any{"loginName": login, "email": login + "@example.com", "profileIds": []any{3}, "skillIds": []any{}}
		for k, v := range extra {
			u[k] = v
		}
		return e.sim.SeedUsers(u)[0]
	}
	a := seed("a", map[string]any{"fullName": "Ann A. Able", "employeeId": "OLD-1"})
	b := seed("b", map[string]any{"fullName": "Bob Bell", "employeeId": "E-2"})
	d := seed("d", nil)
	// c left: no HR record, holds a skill skillsync owns.
	c := seed("c", map[string]any{"fullName": "Cid", "employeeId": "E-3"})
	fields := roleFields
	fields.Fields.Name, fields.Fields.EmployeeID = "name", "empno"
	r := e.runnerHR(cfg, fields)
	e.run(r, store.ModeApply)
	sales := e.skillIDOf("Sales")
	e.sim.EditUser(c, func(m map[string]any) { m["skillIds"] = []any{sales} })

	res := e.run(r, store.ModeApply)
	stored := map[int64]map[string]any{}
	for _, u := range e.sim.Users() {
		stored[u["id"].(int64)] = u
	}
	check := func(id int64, fullName, employeeID any, skills string) {
		t.Helper()
		u := stored[id]
		if u["fullName"] != fullName || u["employeeId"] != employeeID || fmt.Sprint(u["skillIds"]) != skills {
			t.Errorf("user %d: fullName %q employeeId %q skills %v, want %q %q %s", id, u["fullName"], u["employeeId"], u["skillIds"], fullName, employeeID, skills)
		}
	}
	check(a, "Ann Able", "E-1", fmt.Sprintf("[%d]", sales))
	check(b, "Bob Bell", "E-2", "[]")
	check(c, "Cid", "E-3", fmt.Sprintf("[%d]", sales))
	check(d, nil, nil, fmt.Sprintf("[%d]", sales))
	ap := res.Plan.Assignments
	for _, want := range []string{"2 users not written", "b (record 2 lacks employeeId)", "c (no HR record)"} {
		if ap.Skipped != 2 || !slices.ContainsFunc(ap.Notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("skipped %d, notes %q, want %q", ap.Skipped, ap.Notes, want)
		}
	}
	if res.Run.Outcome != store.OutcomeNoChanges || res.Plan.HasChanges() {
		t.Errorf("outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
}

// The rename that frees a deleted skill's name is part of the delete: the
// plan shows it as the delete's rename_to, not as an update of its own.
func TestFreeDeletedNamesIsPartOfTheDelete(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Tiny", 120), lpSkill(2, "Tiny (deleted by skillsync, id 1)", 120)}
	p := BuildPlan(PlanInput{Current: current, Registry: []store.OwnedSkill{owned(1, "Tiny", "d|Tiny")}, DeleteAfterRuns: 1})
	FreeDeletedNames(p, current)
	if s := p.Summary(); s.Update != 0 || s.Delete != 1 || len(p.Changes) != 2 {
		t.Fatalf("summary %+v changes %+v", s, p.Changes)
	}
	var text strings.Builder
	if err := p.RenderText(&text, false); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	want := "Tiny (deleted by skillsync, id 1) #2" // the plain one is taken
	if !strings.Contains(text.String(), `renamed first to "`+want+`"`) || strings.Contains(text.String(), "~ Tiny") ||
		!strings.Contains(string(b), `"rename_to":"`+want+`"`) || strings.Count(string(b), `"action"`) != 1 {
		t.Errorf("text:\n%s\njson %s", text.String(), b)
	}
}

// Registry keys compare by their values' name identity: a merged group
// whose key is spelt in another Unicode form (or case) than the key of the
// skill merged away does not take that key over, so undoing the merge
// later gives each group its own skill back (found by the property tests).
func TestKeysCompareByNameIdentity(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(3, "Caf\u00e9 / Agent", 120), lpSkill(4, "Caf\u00e9 / Senior Agent", 120)}
	registry := []store.OwnedSkill{owned(3, "Caf\u00e9 / Agent", "role|Caf\u00e9|Agent"), owned(4, "Caf\u00e9 / Senior Agent", "role|Cafe\u0301|Senior Agent")}
	merged := desired("Caf\u00e9 / Agent", "role|Caf\u00e9|Senior Agent", 120, "1")
	merged.Keys = []string{merged.Key}
	p := BuildPlan(PlanInput{Desired: []DesiredSkill{merged}, Current: current, Registry: registry, DeleteAfterRuns: 2, RunID: 5})
	if len(p.RegistryFixes) != 0 || len(p.Changes) != 1 || p.Changes[0].Action != ActionPendingDelete || p.Changes[0].SkillID != 4 {
		t.Fatalf("fixes %+v changes %+v", p.RegistryFixes, p.Changes)
	}
	// Undone: each group keeps its skill.
	agent := desired("Caf\u00e9 / Agent", "role|Cafe\u0301|Agent", 120, "1")
	senior := desired("Caf\u00e9 / Senior Agent", "role|Caf\u00e9|Senior Agent", 120, "2")
	p = BuildPlan(PlanInput{Desired: []DesiredSkill{agent, senior}, Current: current, Registry: registry, DeleteAfterRuns: 2, RunID: 6})
	if len(p.Changes) != 0 || p.Unchanged != 2 {
		t.Errorf("changes %+v unchanged %d", p.Changes, p.Unchanged)
	}
}
