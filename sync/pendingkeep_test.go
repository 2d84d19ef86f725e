package sync

import (
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// TestPendingDeleteMembersKeepTheSkillAndThePlanSaysSo (the chaos soak's
// seeds 53, 79 and 85): a skill no rule produces is due for deletion, but
// a user skillsync does not manage (keep_unmatched) holds it, so the
// delete waits. Its members, matched to HR, keep it until it is deleted
// (design §7.7), and the plan says so, rather than show users matched to a
// record that no longer selects the skill still holding it unexplained.
func TestPendingDeleteMembersKeepTheSkillAndThePlanSaysSo(t *testing.T) {
	t.Parallel()
	current := []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(3, "Old", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales"), owned(3, "Old", "d|Old")}
	desiredSkills := []DesiredSkill{desired("Sales", "d|Sales", 120, "1", "2")}
	records := []hrsource.Record{{ID: "1", Email: "ann@example.com", Active: true}, {ID: "2", Email: "bob@example.com", Active: true}}
	users := []liveperson.User{
		{ID: 101, Email: "ann@example.com", SkillIDs: []int64{1, 3}}, // a member of Old
		{ID: 102, Email: "bob@example.com", SkillIDs: []int64{3}},    // a member of Old, gains Sales
		{ID: 105, Email: "stranger@example.com", SkillIDs: []int64{3}},
	}
	in := PlanInput{Desired: desiredSkills, Current: current, Registry: registry, DeleteAfterRuns: 1, RunID: 5}
	p := BuildPlan(in)
	p.Assignments = PlanAssignments(p, desiredSkills, registry, current, AssignInput{Records: records, Users: users, Match: "email",
		MaxChangesPercent: 100, KeepUnmatched: true})
	HoldReferencedDeletes(p, current, users)
	finishPlan(p, current)

	i := slices.IndexFunc(p.Changes, func(c Change) bool { return c.Skill == "Old" })
	if i < 0 || p.Changes[i].Action != ActionPendingDelete || !strings.Contains(p.Changes[i].Reason, "user 105") {
		t.Fatalf("Old: %+v, want a pending delete held by user 105", p.Changes)
	}
	for _, u := range p.Assignments.Users {
		if slices.ContainsFunc(u.Unassign, func(r SkillRef) bool { return r.SkillID == 3 }) {
			t.Errorf("user %d loses Old, which is only pending deletion", u.UserID)
		}
	}
	want := `"Old" is a pending delete whose members keep the skill: 2 users matched to HR keep it until it is deleted`
	if !slices.ContainsFunc(p.Assignments.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("notes %q, want one starting %q", p.Assignments.Notes, want)
	}
	var b strings.Builder
	if err := p.RenderText(&b, false); err != nil || !strings.Contains(b.String(), want) {
		t.Errorf("the text plan does not say it (%v):\n%s", err, b.String())
	}
}
