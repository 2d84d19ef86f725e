package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

func TestMadeBy(t *testing.T) {
	t.Parallel()
	body := liveperson.Skill{Name: "Billing", Description: "Billing staff", MaxWaitTime: ptr(120), LobIDs: []int64{3, 1}}
	sent := sentState(&body, []string{"name", "description", "max_wait_time", "lob_ids"})
	for _, tc := range []struct {
		name string
		live liveperson.Skill
		sent SkillState
		want string // "" when the skill is the one sent, else part of why not
	}{
		{"same", body, sent, ""},
		{"other case and spaces", liveperson.Skill{Name: " billing ", Description: "Billing staff ", MaxWaitTime: ptr(120), LobIDs: []int64{1, 3}}, sent, ""},
		{"a managed field changed", liveperson.Skill{Name: "Billing", Description: "Billing staff", MaxWaitTime: ptr(600), LobIDs: []int64{1, 3}}, sent,
			"max_wait_time is 600, not 120 as sent"},
		{"other description", liveperson.Skill{Name: "Billing", Description: "made by hand", MaxWaitTime: ptr(120), LobIDs: []int64{1, 3}}, sent,
			`description is "made by hand", not "Billing staff" as sent`},
		{"a list set differs", liveperson.Skill{Name: "Billing", Description: "Billing staff", MaxWaitTime: ptr(120), LobIDs: []int64{1}}, sent,
			"lob_ids is [1], not [1,3] as sent"},
		{"other name", liveperson.Skill{Name: "Billing 2", Description: "Billing staff", MaxWaitTime: ptr(120), LobIDs: []int64{1, 3}}, sent,
			`name is "Billing 2"`},
		// A description is always sent (empty when not managed).
		{"name only sent, described by hand", liveperson.Skill{Name: "Billing", Description: "by hand"}, sentState(&liveperson.Skill{Name: "Billing"}, nil),
			`description is "by hand", not "" as sent`},
		{"journaled by an older skillsync", body, nil, "does not say what the create sent"},
	} {
		got := madeBy(&tc.live, tc.sent)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: madeBy = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBuildPlanTakesOverOnlyWhatWasSent: a skill under the name of a
// create whose answer was lost is taken over only when it has every field
// the create sent; otherwise it is an unmanaged conflict whose reason says
// why, and adopt_existing still adopts it as any other.
func TestBuildPlanTakesOverOnlyWhatWasSent(t *testing.T) {
	t.Parallel()
	d := desired("Sales", "dept|Sales", 120)
	d.ManageDescription, d.Description = true, "Sales staff"
	op, made := lostCreateOf(31, 12, d)
	byHand := made
	byHand.Description = "made by hand"
	otherWait := made
	otherWait.MaxWaitTime = ptr(300)
	legacy := op
	legacy.Sent = nil
	for _, tc := range []struct {
		name  string
		live  liveperson.Skill
		op    store.Operation
		adopt bool
		want  string // the change
		why   string // in the conflict's reason
		res   string
	}{
		{"what was sent: taken over", made, op, false, "update Sales adopt=true", "", ResolutionTakenOver},
		{"another description: not ours", byHand, op, false, "unmanaged_conflict Sales adopt=false",
			`not provably the one it made (description is "made by hand", not "Sales staff" as sent)`, ResolutionNotOurs},
		{"another setting: not ours", otherWait, op, false, "unmanaged_conflict Sales adopt=false",
			"not provably the one it made (max_wait_time is 300, not 120 as sent)", ResolutionNotOurs},
		{"journaled without its fields: not ours", made, legacy, false, "unmanaged_conflict Sales adopt=false",
			"does not say what the create sent", ResolutionNotOurs},
		{"not ours, but adopt_existing adopts", byHand, op, true, "update Sales adopt=true", "", ResolutionNotOurs},
	} {
		p := BuildPlan(PlanInput{Desired: []DesiredSkill{d}, Current: []liveperson.Skill{tc.live},
			Unconfirmed: []store.Operation{tc.op}, AdoptExisting: tc.adopt, RunID: 13})
		if len(p.Changes) != 1 {
			t.Fatalf("%s: changes %+v", tc.name, p.Changes)
		}
		c := p.Changes[0]
		if got := fmt.Sprintf("%s %s adopt=%v", c.Action, c.Skill, c.Adopt); got != tc.want {
			t.Errorf("%s: change %q, want %q", tc.name, got, tc.want)
		}
		if tc.why != "" && !strings.Contains(c.Reason, tc.why) {
			t.Errorf("%s: reason %q lacks %q", tc.name, c.Reason, tc.why)
		}
		if len(p.Unconfirmed) != 1 || p.Unconfirmed[0].Resolution != tc.res {
			t.Errorf("%s: resolutions %+v, want %s", tc.name, p.Unconfirmed, tc.res)
		}
		if taken := len(p.Takeovers) == 1; taken != (tc.res == ResolutionTakenOver) {
			t.Errorf("%s: takeovers %+v", tc.name, p.Takeovers)
		}
	}
}

// TestRunHandMadeSkillUnderALostCreateIsNotTakenOver: a run dies after
// sending a create batch that LivePerson never handled (the connection
// dropped), and before the next run someone makes two of those skills by
// hand: one with another description, one with the description skillsync
// would send but another max wait time. The next run takes neither over
// (it would rewrite them, and delete them when their group leaves HR): both
// are unmanaged conflicts saying why, left as they are, and the skills
// nobody made are created.
func TestRunHandMadeSkillUnderALostCreateIsNotTakenOver(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	dying := &dyingStore{Store: e.store}
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			// Every create of the dying run is dropped unhandled.
			e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Drop: true, Times: 10})
		}
	}
	e.skills.afterCreate = func(n int) {
		if n == 1 {
			dying.die()
		}
	}
	if res, err := e.runnerWith(e.cfg, dying).RunOnce(context.Background(), store.ModeApply, store.TriggerSchedule); err == nil {
		t.Fatalf("the dying run recorded itself: %+v", res.Run)
	}
	e.skills.beforeCreate, e.skills.afterCreate = nil, nil
	e.sim.ClearFaults()
	if n := len(e.sim.Skills(true)); n != 0 {
		t.Fatalf("%d skills after the dropped create, want 0", n)
	}
	ids := e.sim.SeedSkills(
		map[string]any{"name": "Billing", "description": "made by hand", "maxWaitTime": 120},
		map[string]any{"name": "Sales", "description": "Sales staff", "maxWaitTime": 300},
	)
	before := e.liveSkills()

	res := e.run(e.runner(e.cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || len(res.Plan.Takeovers) != 0 {
		t.Fatalf("outcome %s %q, takeovers %+v", res.Run.Outcome, res.Run.Error, res.Plan.Takeovers)
	}
	why := map[string]string{
		"Billing": `description is "made by hand", not "Billing staff" as sent`,
		"Sales":   "max_wait_time is 300, not 120 as sent",
	}
	conflicts := 0
	for _, c := range res.Plan.Changes {
		if c.Action != ActionUnmanagedConflict {
			continue
		}
		conflicts++
		if w := why[c.Skill]; w == "" || !strings.Contains(c.Reason, w) || !strings.Contains(c.Reason, "not provably the one it made") {
			t.Errorf("conflict %s: reason %q, want it to say %q", c.Skill, c.Reason, w)
		}
	}
	if conflicts != 2 {
		t.Errorf("%d unmanaged conflicts, want Billing and Sales: %+v", conflicts, res.Plan.Changes)
	}
	if got := e.ownedNames(); slices.Contains(got, "Billing") || slices.Contains(got, "Sales") || len(got) != 4 {
		t.Errorf("owned %v, want the four skills nobody made by hand", got)
	}
	after := e.liveSkills()
	for _, n := range []string{"Billing", "Sales"} {
		if fmt.Sprint(after[n]) != fmt.Sprint(before[n]) {
			t.Errorf("%s, made by hand, changed:\n%v\n%v", n, before[n], after[n])
		}
	}
	for _, id := range ids {
		if s := skillByID(e.sim.Skills(true), id); s == nil || s["deleted"] == true {
			t.Errorf("skill %d made by hand is gone", id)
		}
	}
	if len(e.sim.Skills(true)) != 6 {
		t.Errorf("%d skills, want 6 (no duplicate)", len(e.sim.Skills(true)))
	}
}
