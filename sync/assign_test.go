package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

func TestPlanAssignments(t *testing.T) {
	t.Parallel()
	rec := func(id, email string, active bool) hrsource.Record {
		return hrsource.Record{ID: id, Email: email, LoginName: "login" + id, Active: active}
	}
	user := func(id int64, email string, skills ...int64) liveperson.User {
		return liveperson.User{ID: id, Email: email, LoginName: fmt.Sprintf("login%d", id-100), SkillIDs: skills}
	}
	// Owned: 1 Sales, 2 Billing, 3 Old (to delete). Unowned: 9 Manual.
	current := []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "Billing", 120), lpSkill(3, "Old", 120), lpSkill(9, "Manual", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales"), owned(2, "Billing", "d|Billing"), owned(3, "Old", "d|Old")}
	desiredSkills := []DesiredSkill{
		desired("Billing", "d|Billing", 120, "2"),
		desired("New", "d|New", 120, "1", "2"),
		desired("Sales", "d|Sales", 120, "1"),
	}
	records := []hrsource.Record{
		rec("1", "Ann@Example.com", true), rec("2", "bob@example.com", true), rec("3", "cid@example.com", false),
		rec("4", "dup@example.com", true), rec("5", "dup@example.com", true), rec("6", "nobody@example.com", true), rec("7", "", true),
	}
	users := []liveperson.User{
		user(101, "ann@example.com", 9),       // gains Sales, New; keeps unowned Manual
		user(102, "BOB@example.com", 1, 2, 3), // loses Sales and Old, gains New
		user(103, "cid@example.com", 2, 9),    // inactive: loses Billing only
		user(104, "dup@example.com", 1),       // two records: left alone
		user(105, "stranger@example.com", 3),  // no record: departed
	}
	in := PlanInput{Desired: desiredSkills, Current: current, Registry: registry, DeleteAfterRuns: 1, RunID: 5}
	tests := []struct {
		name     string
		pct      float64
		keep     bool
		want     map[int64]string // user → "+a +b -c"
		heldBack int
		old      string // what becomes of Old: "delete" or part of the pending reason
	}{
		{
			name: "every matched user converges, departed users lose owned skills",
			pct:  100,
			want: map[int64]string{101: "+New +Sales", 102: "+New -Old -Sales", 103: "-Billing", 105: "-Old"},
			old:  "delete", // unassigned from everyone first, then deleted
		},
		{
			name: "keep_unmatched leaves users without a record alone",
			pct:  100, keep: true,
			want: map[int64]string{101: "+New +Sales", 102: "+New -Old -Sales", 103: "-Billing"},
			old:  "user 105 login5 (not managed by skillsync)",
		},
		{
			name:     "above max_changes_percent every removal is held",
			pct:      34, // 5 users considered → 1 may lose skills, 3 would
			want:     map[int64]string{101: "+New +Sales", 102: "+New", 103: "", 105: ""},
			heldBack: 3,
			old:      "still held by user 102 login2, user 105 login5;",
		},
		{
			name:     "at max_changes_percent removals go ahead",
			pct:      60, // 5 users considered → 3 may lose skills
			want:     map[int64]string{101: "+New +Sales", 102: "+New -Old -Sales", 103: "-Billing", 105: "-Old"},
			heldBack: 0,
			old:      "delete",
		},
		{
			name:     "max_changes_percent 0: no user loses a skill",
			pct:      0,
			want:     map[int64]string{101: "+New +Sales", 102: "+New", 103: "", 105: ""},
			heldBack: 3,
			old:      "still held by user 102 login2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := BuildPlan(in)
			a := PlanAssignments(p, desiredSkills, registry, current, AssignInput{Records: records, Users: users, Match: "email",
				MaxChangesPercent: tt.pct, KeepUnmatched: tt.keep})
			p.Assignments = a
			got := map[int64]string{}
			unassigned := 0
			for _, u := range a.Users {
				var parts []string
				for _, r := range u.Assign {
					parts = append(parts, "+"+r.Skill)
				}
				for _, r := range u.Unassign {
					parts = append(parts, "-"+r.Skill)
					unassigned++
				}
				got[u.UserID] = strings.Join(parts, " ")
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("changes %v, want %v", got, tt.want)
			}
			if (a.Refusal != "") != (tt.heldBack > 0) || tt.heldBack > 0 && !strings.Contains(a.Refusal, "3 of 5 users would lose skills (60.0%)") {
				t.Errorf("refusal %q with %d held", a.Refusal, tt.heldBack)
			}
			if a.Matched != 3 || a.Considered != 5 || a.Ambiguous != 1 || a.UnmatchedRecords != 2 || a.HeldBack != tt.heldBack {
				t.Errorf("matched %d ambiguous %d unmatched %d held %d; notes %q", a.Matched, a.Ambiguous, a.UnmatchedRecords, a.HeldBack, a.Notes)
			}
			if s := p.Summary(); s.Assign != 3 || s.Unassign != unassigned {
				t.Errorf("summary %+v", s)
			}
			HoldReferencedDeletes(p, current, users)
			for _, c := range p.Changes {
				if c.Skill != "Old" {
					continue
				}
				if tt.old == "delete" && c.Action != ActionDelete || tt.old != "delete" && (c.Action != ActionPendingDelete || !strings.Contains(c.Reason, tt.old)) {
					t.Errorf("Old: %s %q, want %q", c.Action, c.Reason, tt.old)
				}
			}
		})
	}
}

// A user whose record a rule could not evaluate keeps that rule's skills.
func TestPlanAssignmentsKeepsSkillsOfProblemRecords(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "Langs", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales"), owned(2, "Langs", "l|Langs")}
	records := []hrsource.Record{{ID: "1", Email: "a@x", Active: true}, {ID: "2", Email: "b@x", Active: true}}
	users := []liveperson.User{{ID: 101, Email: "a@x", SkillIDs: []int64{1, 2}}, {ID: 102, Email: "b@x", SkillIDs: []int64{1, 2}}}
	// Both skills are still wanted (by others): the two users are no
	// longer members.
	want := []DesiredSkill{desired("Langs", "l|Langs", 120, "9"), desired("Sales", "d|Sales", 120, "9")}
	for _, tt := range []struct {
		name     string
		problems []RecordProblem
		want     string
		kept     int
	}{
		{"no problems: both lose both", nil, "101:-Langs -Sales 102:-Langs -Sales", 0},
		{"record 1 failed rule d", []RecordProblem{{RecordID: "1", RuleID: "d"}}, "101:-Langs 102:-Langs -Sales", 1},
		{"rule d failed beyond the listed records", []RecordProblem{{RuleID: "d", Msg: "30 more records skipped"}}, "101:-Langs 102:-Langs", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := BuildPlan(PlanInput{Desired: want, Current: current, Registry: registry, DeleteAfterRuns: 2, Problems: tt.problems})
			a := PlanAssignments(p, want, registry, current, AssignInput{Records: records, Users: users, MaxChangesPercent: -1, Problems: tt.problems})
			var parts []string
			for _, u := range a.Users {
				var refs []string
				for _, r := range u.Unassign {
					refs = append(refs, "-"+r.Skill)
				}
				parts = append(parts, fmt.Sprintf("%d:%s", u.UserID, strings.Join(refs, " ")))
			}
			if got := strings.Join(parts, " "); got != tt.want || a.KeptForProblems != tt.kept {
				t.Errorf("got %q kept %d, want %q kept %d; notes %q", got, a.KeptForProblems, tt.want, tt.kept, a.Notes)
			}
		})
	}
}

func TestHoldReferencedDeletesSkills(t *testing.T) {
	t.Parallel()
	ref := lpSkill(8, "Router", 120)
	ref.SkillTransferList = []int64{3}
	fb := lpSkill(7, "Fallback user", 120)
	fb.FallbackSkill = ptr(int64(4))
	current := []liveperson.Skill{lpSkill(3, "A", 1), lpSkill(4, "B", 1), lpSkill(5, "C", 1), ref, fb}
	p := BuildPlan(PlanInput{Current: current, Registry: []store.OwnedSkill{owned(3, "A", "r|A"), owned(4, "B", "r|B"), owned(5, "C", "r|C")}, DeleteAfterRuns: 1})
	if n := HoldReferencedDeletes(p, current, nil); n != 2 {
		t.Fatalf("held %d, want 2: %+v", n, p.Changes)
	}
	want := map[string]string{"A": `skill 8 "Router" (transfer list)`, "B": `skill 7 "Fallback user" (fallback skill)`, "C": ""}
	for _, c := range p.Changes {
		if w := want[c.Skill]; (w == "") != (c.Action == ActionDelete) || !strings.Contains(c.Reason, w) {
			t.Errorf("%s: %s %s", c.Skill, c.Action, c.Reason)
		}
	}
}

// Integration: lpsim users and Postgres.

func assignConfig() Config {
	cfg := deptConfig()
	cfg.Skills.Rules = cfg.Skills.Rules[:1] // one skill per department
	cfg.Skills.Static = []Static{{Name: "Escalations"}}
	cfg.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: 100}
	cfg.Sync.DeleteAfterRuns = 1
	cfg.Sync.MaxDeletePercent = -1
	return cfg
}

func seedUsers(e *testEnv, emails ...string) map[string]int64 {
	byEmail := map[string]int64{}
	for _, em := range emails {
		ids := e.sim.SeedUsers(map[string]any{"loginName": strings.Split(em, "@")[0], "email": em, "profileIds": []any{3},
			"skillIds": []any{}, "maxChats": 4, "memberOf": map[string]any{"agentGroupId": 1}})
		byEmail[em] = ids[0]
	}
	return byEmail
}

// userSkills returns email → sorted skill names held (names via the sim).
func (e *testEnv) userSkills() map[string][]string {
	names := map[string]string{}
	for _, s := range e.sim.Skills(true) {
		names[fmt.Sprint(s["id"])] = s["name"].(string)
	}
	out := map[string][]string{}
	for _, u := range e.sim.Users() {
		var held []string
		list, _ := u["skillIds"].([]any)
		for _, id := range list {
			held = append(held, names[fmt.Sprint(id)])
		}
		slices.Sort(held)
		out[u["email"].(string)] = held
	}
	return out
}

func TestAssignmentsLifecycle(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	e := setup(t, baseHR, cfg)
	manual := e.sim.SeedSkills(map[string]any{"name": "VIP"})
	users := seedUsers(e, "ann@example.com", "bob@example.com", "cid@example.com", "dee@example.com", "eve@example.com", "admin@example.com")
	// A skill added by hand that skillsync does not own.
	e.sim.EditUser(users["ann@example.com"], func(m map[string]any) { m["skillIds"] = []any{manual[0]} })
	r := e.runner(cfg)

	res := e.run(r, store.ModeApply)
	want := map[string][]string{
		"ann@example.com": {"Sales", "VIP"}, "bob@example.com": {"Sales"}, "cid@example.com": {"Billing"},
		"dee@example.com": {"Support"}, "eve@example.com": nil, "admin@example.com": nil,
	}
	// A static skill is handed out by hand, never by assignments.
	esc := e.liveSkills()["Escalations"]["id"]
	e.sim.EditUser(users["admin@example.com"], func(m map[string]any) { m["skillIds"] = []any{esc} })
	e.sim.EditUser(users["cid@example.com"], func(m map[string]any) { m["skillIds"] = append(m["skillIds"].([]any), esc) })
	want["admin@example.com"] = []string{"Escalations"}
	want["cid@example.com"] = []string{"Billing", "Escalations"}
	if got := e.userSkills(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after first run %v, want %v (outcome %s %s)", got, want, res.Run.Outcome, res.Run.Error)
	}
	if res.Run.Counts.Assign != 4 || e.sim.Count("PUT", usersPath) != 1 {
		t.Errorf("counts %+v, %d user PUTs", res.Run.Counts, e.sim.Count("PUT", usersPath))
	}
	// Unknown fields of the user object survive the full-object PUT.
	for _, u := range e.sim.Users() {
		if u["email"] == "ann@example.com" && (fmt.Sprint(u["maxChats"]) != "4" || u["memberOf"] == nil) {
			t.Errorf("user fields lost: %v", u)
		}
	}

	// No-op: one skills GET, one users GET, no writes.
	e.sim.ResetLog()
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeNoChanges || e.sim.Count("GET", skillsPath) != 1 || e.sim.Count("GET", usersPath) != 1 ||
		e.writes()+e.sim.Count("PUT", usersPath) != 0 {
		t.Fatalf("no-op run %s: %d skills GETs, %d users GETs, %d writes", res.Run.Outcome,
			e.sim.Count("GET", skillsPath), e.sim.Count("GET", usersPath), e.writes()+e.sim.Count("PUT", usersPath))
	}

	// Bob moves to Billing; Ann leaves (inactive): she loses Sales only.
	hr := strings.Replace(baseHR, "2,bob@example.com,Bob,Sales", "2,bob@example.com,Bob,Billing", 1)
	hr = strings.Replace(hr, "1,ann@example.com,Ann,Sales,Manager,active", "1,ann@example.com,Ann,Sales,Manager,left", 1)
	// Dee is gone from the feed altogether: departed, loses Support.
	hr = strings.Replace(hr, "4,dee@example.com,Dee,Support,Agent,active,French\r\n", "", 1)
	e.writeHR(hr)
	res = e.run(r, store.ModeApply)
	want["bob@example.com"] = []string{"Billing"}
	want["ann@example.com"] = []string{"VIP"}
	want["dee@example.com"] = nil
	if got := e.userSkills(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the move %v, want %v", got, want)
	}
	// Sales and Support have no active member left: unassigned and
	// deleted in one run.
	if res.Run.Counts.Delete != 2 || e.liveSkills()["Sales"] != nil || e.liveSkills()["Support"] != nil {
		t.Errorf("Sales not deleted: counts %+v; plan %+v", res.Run.Counts, res.Plan.Changes)
	}
	// The journal shows the users phase before the delete.
	_, ops, _ := e.store.GetRun(context.Background(), res.Run.ID)
	var order []string
	for _, op := range ops {
		order = append(order, op.Action)
	}
	if i, j := slices.Index(order, "assign"), slices.Index(order, "delete"); i < 0 || j < i {
		t.Errorf("journal order %v", order)
	}
}

func TestAssignmentsConflictMidBatchRecovered(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	e := setup(t, baseHR, cfg, withBatch(2))
	users := seedUsers(e, "ann@example.com", "bob@example.com", "cid@example.com", "dee@example.com")
	other := e.sim.SeedSkills(map[string]any{"name": "Someone else's"})
	hu := &hookUsers{UsersAPI: e.client}
	// After the first users batch someone edits the account.
	hu.after = func(n int) {
		if n == 1 {
			e.sim.EditSkill(other[0], func(m map[string]any) { m["description"] = "edited" })
		}
	}
	e.users = hu
	r := e.runner(cfg)
	res := e.run(r, store.ModeApply)
	conflicts := 0
	for _, rq := range e.sim.Requests() {
		if rq.Status == 409 {
			conflicts++
		}
	}
	if conflicts != 1 || e.sim.Count("PUT", usersPath) != 3 {
		t.Errorf("%d conflicts, %d user PUTs; want 1 conflict, 3 PUTs (batch, conflicting batch, its retry)", conflicts, e.sim.Count("PUT", usersPath))
	}
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Assign != 4 {
		t.Fatalf("outcome %s %q counts %+v", res.Run.Outcome, res.Run.Error, res.Run.Counts)
	}
	got := e.userSkills()
	if fmt.Sprint(got["ann@example.com"]) != "[Sales]" || fmt.Sprint(got["dee@example.com"]) != "[Support]" || len(users) != 4 {
		t.Errorf("users %v", got)
	}
}

func TestAssignmentsBatches(t *testing.T) {
	t.Parallel()
	cfg := teamConfig()
	cfg.Assignments = AssignmentsConfig{Enabled: true, MaxChangesPercent: 100}
	e := setup(t, manyHR(1000), cfg, withBatch(50))
	seeds := make([]map[string]any, 1000)
	for i := range seeds {
		seeds[i] = map[string]any{"loginName": fmt.Sprintf("p%d", i+1), "email": fmt.Sprintf("p%d@example.com", i+1), "profileIds": []any{3}}
	}
	e.sim.SeedUsers(seeds...)
	res := e.run(e.runner(cfg), store.ModeApply)
	if n := e.sim.Count("PUT", usersPath); n != 20 || res.Run.Counts.Assign != 1000 {
		t.Errorf("%d user update calls (want ceil(1000/50) = 20), %d assigned", n, res.Run.Counts.Assign)
	}
}

// hookUsers wraps the Users API so a test can act between batches.
type hookUsers struct {
	UsersAPI
	n     int
	after func(n int)
}

func (h *hookUsers) UpdateUsers(ctx context.Context, rev string, users []liveperson.User) (string, error) {
	h.n++
	rev, err := h.UsersAPI.UpdateUsers(ctx, rev, users)
	if h.after != nil {
		h.after(h.n)
	}
	return rev, err
}

func TestAssignmentsFailingUserDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	e := setup(t, baseHR, cfg)
	seedUsers(e, "ann@example.com", "bob@example.com", "dee@example.com")
	// LivePerson refuses to update a user without profileIds.
	e.sim.SeedUsers(map[string]any{"loginName": "cid", "email": "cid@example.com", "skillIds": []any{}})
	res := e.run(e.runner(cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Assign != 3 || res.Run.Counts.Failed != 1 {
		t.Fatalf("outcome %s counts %+v", res.Run.Outcome, res.Run.Counts)
	}
	got := e.userSkills()
	if fmt.Sprint(got["ann@example.com"]) != "[Sales]" || fmt.Sprint(got["dee@example.com"]) != "[Support]" || len(got["cid@example.com"]) != 0 {
		t.Errorf("users %v", got)
	}
	_, ops, _ := e.store.GetRun(context.Background(), res.Run.ID)
	var failed []string
	for _, op := range ops {
		if op.State == store.OpFailed {
			failed = append(failed, op.Request+" "+op.Error)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], " cid: +Billing") || !strings.Contains(failed[0], "profileIds") {
		t.Errorf("failed journal rows %q", failed)
	}
}

func TestQuoteJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "Ann Lee", "E0000001", `a "quoted" \\ name`, "<b>&", "tab\there", "Zoë", "\u2028", "bad \xff utf-8", "~"} {
		want, _ := json.Marshal(s)
		if got := quoteJSON(s); string(got) != string(want) {
			t.Errorf("quoteJSON(%q) = %s, want %s", s, got, want)
		}
	}
}
