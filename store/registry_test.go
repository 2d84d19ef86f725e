package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// names lists the skill names of owned, in order.
func names(owned []store.OwnedSkill) []string {
	var out []string
	for _, o := range owned {
		out = append(out, o.Name)
	}
	return out
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	later, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}

	if owned, err := st.OwnedSkills(ctx); err != nil || len(owned) != 0 {
		t.Fatalf("OwnedSkills on an empty registry = %v, %v", owned, err)
	}
	err = st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
		{SkillID: 10, Name: "Sales", RuleID: "department", RuleKey: "department|Sales", CreatedByRun: &run.ID},
		{SkillID: 11, Name: "R&D", RuleID: "department", RuleKey: "department|R&D", CreatedByRun: &run.ID},
		{SkillID: 12, Name: "Escalations", RuleID: "static", RuleKey: "static|Escalations", Adopted: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	owned, err := st.OwnedSkills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(owned), []string{"Escalations", "R&D", "Sales"}; !slices.Equal(got, want) {
		t.Fatalf("OwnedSkills = %v, want %v (sorted by name)", got, want)
	}
	if o := owned[2]; o.SkillID != 10 || o.RuleID != "department" || o.RuleKey != "department|Sales" ||
		o.CreatedByRun == nil || *o.CreatedByRun != run.ID || o.Adopted || o.CreatedAt.IsZero() || o.ReleasedAt != nil {
		t.Errorf("Sales = %+v", o)
	}
	if !owned[0].Adopted || owned[0].CreatedByRun != nil {
		t.Errorf("Escalations = %+v, want adopted and created by no run", owned[0])
	}

	// A changed name template renames in place; the creating run stays.
	err = st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
		{SkillID: 11, Name: "Research", RuleID: "department", RuleKey: "department|R&D", CreatedByRun: &later.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	owned, err = st.OwnedSkills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(owned), []string{"Escalations", "Research", "Sales"}; !slices.Equal(got, want) {
		t.Fatalf("after rename OwnedSkills = %v, want %v", got, want)
	}
	if o := owned[1]; o.SkillID != 11 || *o.CreatedByRun != run.ID {
		t.Errorf("renamed skill = %+v, want id 11 created by run %d", o, run.ID)
	}

	// A rule key already naming another managed skill is refused whole.
	err = st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
		{SkillID: 13, Name: "New", RuleKey: "unique|new"},
		{SkillID: 14, Name: "Sales 2", RuleKey: "department|Sales"},
	})
	if err == nil || !strings.Contains(err.Error(), "rule key") {
		t.Errorf("duplicate rule key: err = %v, want a rule key error", err)
	}
	if owned, _ := st.OwnedSkills(ctx); len(owned) != 3 {
		t.Errorf("after a refused upsert the registry has %d skills, want 3", len(owned))
	}

	if err := st.DeleteOwnedSkills(ctx, []int64{10, 999}); err != nil {
		t.Fatal(err)
	}
	owned, err = st.OwnedSkills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(owned), []string{"Escalations", "Research"}; !slices.Equal(got, want) {
		t.Errorf("after delete OwnedSkills = %v, want %v", got, want)
	}
	// The deleted skill's key is free again.
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 20, Name: "Sales", RuleKey: "department|Sales"}}); err != nil {
		t.Errorf("reuse of a deleted skill's key: %v", err)
	}
	if err := st.UpsertOwnedSkills(ctx, nil); err != nil {
		t.Errorf("UpsertOwnedSkills(nil) = %v", err)
	}
	if err := st.DeleteOwnedSkills(ctx, nil); err != nil {
		t.Errorf("DeleteOwnedSkills(nil) = %v", err)
	}
}

func TestReleaseSkill(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	err = st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
		{SkillID: 1, Name: "Sales", RuleKey: "department|Sales"},
		{SkillID: 2, Name: "Support", RuleKey: "department|Support"},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.SetPendingDeletes(ctx, []store.PendingDelete{
		{SkillID: 1, SkillName: "Sales", FirstMissingRun: run.ID, ConsecutiveMissingRuns: 1},
		{SkillID: 2, SkillName: "Support", FirstMissingRun: run.ID, ConsecutiveMissingRuns: 1},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Not while a run holds the lock: it would manage the skill again.
	lock, err := st.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReleaseSkill(ctx, "Sales"); !errors.Is(err, store.ErrRunInProgress) {
		t.Errorf("ReleaseSkill during a run = %v, want ErrRunInProgress", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}

	released, err := st.ReleaseSkill(ctx, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	if released.SkillID != 1 || released.ReleasedAt == nil {
		t.Errorf("ReleaseSkill = %+v, want skill 1 with a release time", released)
	}
	if owned, _ := st.OwnedSkills(ctx); !slices.Equal(names(owned), []string{"Support"}) {
		t.Errorf("after release OwnedSkills = %v, want only Support", names(owned))
	}
	pending, err := st.PendingDeletes(ctx)
	if err != nil || len(pending) != 1 || pending[0].SkillID != 2 {
		t.Errorf("after release PendingDeletes = %+v, %v; want only skill 2", pending, err)
	}

	for _, name := range []string{"Sales", "Nonexistent", "sales"} {
		if _, err := st.ReleaseSkill(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReleaseSkill(%q) = %v, want ErrNotFound", name, err)
		}
	}

	// A released skill's key is free for a new managed skill, and the
	// released one can be managed again by upserting it without ReleasedAt.
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 3, Name: "Sales", RuleKey: "department|Sales"}}); err != nil {
		t.Fatalf("new skill with a released skill's key: %v", err)
	}
	if _, err := st.ReleaseSkill(ctx, "Sales"); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Sales", RuleKey: "department|Sales"}}); err != nil {
		t.Fatal(err)
	}
	owned, err := st.OwnedSkills(ctx)
	if err != nil || len(owned) != 2 || owned[0].SkillID != 1 || owned[0].ReleasedAt != nil {
		t.Errorf("after managing skill 1 again OwnedSkills = %+v, %v", owned, err)
	}

	// Two managed skills of one name (LivePerson and the registry
	// disagree) are not released blindly.
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 4, Name: "Support", RuleKey: "other|Support"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReleaseSkill(ctx, "Support"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReleaseSkill of an ambiguous name = %v, want an error naming both", err)
	}
}

func TestSnapshots(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	if snap, err := st.LastAcceptedSnapshot(ctx); err != nil || snap != nil {
		t.Fatalf("LastAcceptedSnapshot with none = %+v, %v; want nil, nil", snap, err)
	}
	run, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	accepted := store.Snapshot{
		RunID: run.ID, Records: 1470, Active: 1233, HeaderHash: "abc", Accepted: true,
		ValueCounts: map[string]map[string]int{"Department": {"Sales": 446, "Research & Development": 961}},
	}
	id, err := st.RecordSnapshot(ctx, accepted)
	if err != nil {
		t.Fatal(err)
	}
	// A refused read later does not replace the last accepted one.
	refusedRun, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	refusedID, err := st.RecordSnapshot(ctx, store.Snapshot{RunID: refusedRun.ID, Records: 3, Active: 3,
		Reason: "active headcount fell 99.8% (1233 → 3), more than max_active_drop_percent 20"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordSnapshot(ctx, store.Snapshot{Records: 1}); err != nil {
		t.Errorf("snapshot without a run: %v", err)
	}
	// Nor does an accepted read of a dry run: plans change nothing, so
	// only apply runs move the headcount guard's baseline.
	planRun, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordSnapshot(ctx, store.Snapshot{RunID: planRun.ID, Records: 1000, Active: 1000, Accepted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordSnapshot(ctx, store.Snapshot{Records: 5, Active: 5, Accepted: true}); err != nil {
		t.Errorf("accepted snapshot without a run: %v", err)
	}

	snap, err := st.LastAcceptedSnapshot(ctx)
	if err != nil || snap == nil {
		t.Fatalf("LastAcceptedSnapshot = %v, %v", snap, err)
	}
	if snap.ID != id || snap.RunID != run.ID || snap.Records != 1470 || snap.Active != 1233 || !snap.Accepted ||
		snap.HeaderHash != "abc" || snap.ValueCounts["Department"]["Sales"] != 446 || snap.CreatedAt.IsZero() {
		t.Errorf("LastAcceptedSnapshot = %+v, want %+v", snap, accepted)
	}

	// Each snapshot is linked to its run, and FinishRun keeps the link.
	refusedRun.Outcome = store.OutcomeRefused
	if err := st.FinishRun(ctx, refusedRun); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.GetRun(ctx, refusedRun.ID)
	if err != nil || got.SnapshotID == nil || *got.SnapshotID != refusedID {
		t.Errorf("refused run's snapshot = %v, %v; want %d", got.SnapshotID, err, refusedID)
	}

	if _, err := st.RecordSnapshot(ctx, store.Snapshot{RunID: refusedRun.ID + 100}); err == nil {
		t.Error("RecordSnapshot for an unknown run succeeded")
	}
}

func TestPendingDeletes(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	first, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name string
		set  []store.PendingDelete
		want []int64 // skill ids
	}{
		{"first misses", []store.PendingDelete{
			{SkillID: 5, SkillName: "Gone", FirstMissingRun: first.ID, ConsecutiveMissingRuns: 1},
			{SkillID: 3, SkillName: "Also gone", FirstMissingRun: first.ID, ConsecutiveMissingRuns: 1},
		}, []int64{3, 5}},
		{"one back, one still missing, one new", []store.PendingDelete{
			{SkillID: 5, SkillName: "Gone", FirstMissingRun: first.ID, ConsecutiveMissingRuns: 2},
			{SkillID: 9, SkillName: "New", FirstMissingRun: second.ID, ConsecutiveMissingRuns: 1},
			{SkillID: 9, SkillName: "New", FirstMissingRun: second.ID, ConsecutiveMissingRuns: 1},
		}, []int64{5, 9}},
		{"none", nil, nil},
	}
	for _, step := range steps {
		if err := st.SetPendingDeletes(ctx, step.set); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := st.PendingDeletes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, p := range got {
			ids = append(ids, p.SkillID)
			if p.UpdatedAt.IsZero() {
				t.Errorf("%s: skill %d has no UpdatedAt", step.name, p.SkillID)
			}
		}
		if !slices.Equal(ids, step.want) {
			t.Errorf("%s: pending = %v, want %v", step.name, ids, step.want)
		}
		for _, p := range got {
			if p.SkillID == 5 && step.name != "first misses" &&
				(p.ConsecutiveMissingRuns != 2 || p.FirstMissingRun != first.ID || p.SkillName != "Gone") {
				t.Errorf("%s: skill 5 = %+v", step.name, p)
			}
		}
	}

	// A failing replacement (unknown run) rolls back: the old set stays.
	keep := []store.PendingDelete{{SkillID: 1, FirstMissingRun: first.ID, ConsecutiveMissingRuns: 1}}
	if err := st.SetPendingDeletes(ctx, keep); err != nil {
		t.Fatal(err)
	}
	bad := []store.PendingDelete{{SkillID: 2, FirstMissingRun: second.ID + 100, ConsecutiveMissingRuns: 1}}
	if err := st.SetPendingDeletes(ctx, bad); err == nil {
		t.Fatal("SetPendingDeletes with an unknown run succeeded")
	}
	got, err := st.PendingDeletes(ctx)
	if err != nil || len(got) != 1 || got[0].SkillID != 1 {
		t.Errorf("after a failed replacement pending = %+v, %v; want skill 1 still there", got, err)
	}
}

// With Options.NameKey, release finds a skill by the same name identity
// as the planner (" SALES " is "Sales").
func TestReleaseSkillByNameKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, url := setup(t)
	st := open(t, url, store.Options{NameKey: func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }})
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Sales", RuleID: "d", RuleKey: "d|Sales"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReleaseSkill(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}
	sk, err := st.ReleaseSkill(ctx, " SALES ")
	if err != nil || sk.SkillID != 1 || sk.ReleasedAt == nil {
		t.Errorf("released %+v, %v", sk, err)
	}
}
