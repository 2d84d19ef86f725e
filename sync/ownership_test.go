package sync

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestRunAdoptionIsAChange: adopting existing skills takes ownership of
// them (from then on skillsync renames, repairs and deletes them), even
// when no field changes: the plan has changes (plan ends planned,
// --detailed-exitcode exits 2), its text never says "No changes.", and the
// apply run ends applied with the adoptions counted as updates.
func TestRunAdoptionIsAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	first := e.run(e.runner(e.cfg), store.ModeApply)
	// Forget every skill: they are now someone else's, with exactly the
	// values skillsync would write.
	owned, err := e.store.OwnedSkills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, o := range owned {
		ids = append(ids, o.SkillID)
	}
	if err := e.store.DeleteOwnedSkills(ctx, ids); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Skills.AdoptExisting = true
	n := first.Run.Counts.Create

	res := e.run(e.runner(cfg), store.ModePlan)
	if s := res.Plan.Summary(); s.Update != n || s.Create+s.Delete != 0 {
		t.Fatalf("plan summary %+v, want %d updates (adoptions)", s, n)
	}
	for _, c := range res.Plan.Changes {
		if !c.Adopt || len(c.Diff) != 0 {
			t.Fatalf("change %+v, want an adoption without field changes", c)
		}
	}
	if !res.Plan.HasChanges() || res.Run.Outcome != store.OutcomePlanned {
		t.Fatalf("plan: HasChanges %v outcome %s, want true and planned", res.Plan.HasChanges(), res.Run.Outcome)
	}
	var text bytes.Buffer
	if err := res.Plan.RenderText(&text, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "No changes") {
		t.Fatalf("plan text says no changes:\n%s", text.String())
	}

	before := e.writes()
	res = e.run(e.runner(cfg), store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Update != n || res.Run.Counts.Failed != 0 {
		t.Fatalf("apply: outcome %s counts %+v, want applied with %d updates", res.Run.Outcome, res.Run.Counts, n)
	}
	if w := e.writes() - before; w != 0 {
		t.Fatalf("%d writes to LivePerson, want 0 (nothing to change in the adopted skills)", w)
	}
	if got := e.ownedNames(); len(got) != n {
		t.Fatalf("owned %v, want the %d adopted skills", got, n)
	}
	res = e.run(e.runner(cfg), store.ModePlan)
	if res.Plan.HasChanges() || res.Run.Outcome != store.OutcomeNoChanges {
		t.Fatalf("after adopting: HasChanges %v outcome %s", res.Plan.HasChanges(), res.Run.Outcome)
	}
}
