package store_test

import (
	"errors"
	"reflect"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestPlanClaimedOnce: a stored plan is claimed by exactly one approval
// run, even when many try at once; the winner's run row names the plan
// and who approved it.
func TestPlanClaimedOnce(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	dry, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetPlan(ctx, dry.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPlan before SavePlan: %v, want ErrNotFound", err)
	}
	want := store.StoredPlan{RunID: dry.ID, SkillsRevision: "7", UsersRevision: "7", HRFingerprint: "abc",
		Refusal: "headcount fell", RefusedBy: "source_health", DeleteBudget: 3, DeleteAfterRuns: 2}
	if err := st.SavePlan(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetPlan(ctx, dry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() || got.AppliedByRun != nil {
		t.Fatalf("GetPlan = %+v", got)
	}
	got.CreatedAt, got.Plan = want.CreatedAt, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetPlan = %+v, want %+v", got, want)
	}

	const tries = 8
	ids := make([]int64, tries)
	for i := range ids {
		r, err := st.BeginRun(ctx, store.TriggerApproval, store.ModeApply)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
	}
	errs := make([]error, tries)
	var wg gosync.WaitGroup
	for i := range ids {
		wg.Go(func() { errs[i] = st.ClaimPlan(ctx, dry.ID, ids[i], "alice") })
	}
	wg.Wait()
	winner := int64(0)
	for i, err := range errs {
		switch {
		case err == nil && winner == 0:
			winner = ids[i]
		case err == nil:
			t.Fatalf("two claims succeeded: runs %d and %d", winner, ids[i])
		case !errors.Is(err, store.ErrPlanApplied):
			t.Fatalf("claim by run %d: %v, want ErrPlanApplied", ids[i], err)
		}
	}
	if winner == 0 {
		t.Fatal("no claim succeeded")
	}
	p, err := st.GetPlan(ctx, dry.ID)
	if err != nil || p.AppliedByRun == nil || *p.AppliedByRun != winner || p.AppliedAt == nil {
		t.Fatalf("plan after the claims: %+v %v, want applied by run %d", p, err, winner)
	}
	run, _, err := st.GetRun(ctx, winner)
	if err != nil || run.ApprovedRun == nil || *run.ApprovedRun != dry.ID || run.ApprovedBy != "alice" {
		t.Fatalf("approval run: %+v %v", run, err)
	}
	run.Outcome = store.OutcomeApplied
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if run, _, _ = st.GetRun(ctx, winner); run.ApprovedRun == nil || run.ApprovedBy != "alice" {
		t.Fatalf("FinishRun lost the approval: %+v", run)
	}
	if err := st.ClaimPlan(ctx, dry.ID+1000, winner, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim of an unknown plan: %v", err)
	}
}

// TestPlanBelongsToItsAccount: another account neither reads nor claims a
// plan, nor stores one for a run that is not its own.
func TestPlanBelongsToItsAccount(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	other := st.Account("2000")
	dry, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SavePlan(ctx, store.StoredPlan{RunID: dry.ID, HRFingerprint: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account stored a plan for the run: %v", err)
	}
	if err := st.SavePlan(ctx, store.StoredPlan{RunID: dry.ID, HRFingerprint: "x", DeleteBudget: 1, DeleteAfterRuns: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetPlan(ctx, dry.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account read the plan: %v", err)
	}
	theirs, err := other.BeginRun(ctx, store.TriggerApproval, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.ClaimPlan(ctx, dry.ID, theirs.ID, "mallory"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account claimed the plan: %v", err)
	}
	if p, err := st.GetPlan(ctx, dry.ID); err != nil || p.AppliedByRun != nil {
		t.Fatalf("the plan after another account's claim: %+v %v", p, err)
	}
}
