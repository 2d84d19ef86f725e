package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// errDead is what a killed process's store "returns": nothing it would
// have written after its death reaches the database.
var errDead = errors.New("process killed")

// dyingStore is the real store until die is called; from then on every
// write fails, as if the process had been killed with kill -9 at that
// moment. Its run stays running, its journal as the death left it.
type dyingStore struct {
	*store.Store
	dead atomic.Bool
}

func (s *dyingStore) die() { s.dead.Store(true) }

// write runs f unless the process is dead.
func (s *dyingStore) write(f func() error) error {
	if s.dead.Load() {
		return errDead
	}
	return f()
}

func (s *dyingStore) FinishRun(ctx context.Context, run store.Run) error {
	return s.write(func() error { return s.Store.FinishRun(ctx, run) })
}

func (s *dyingStore) JournalAdd(ctx context.Context, runID int64, ops []store.Operation) ([]int64, error) {
	if s.dead.Load() {
		return nil, errDead
	}
	return s.Store.JournalAdd(ctx, runID, ops)
}

func (s *dyingStore) JournalSet(ctx context.Context, updates []store.OpUpdate) error {
	return s.write(func() error { return s.Store.JournalSet(ctx, updates) })
}

func (s *dyingStore) UpsertOwnedSkills(ctx context.Context, skills []store.OwnedSkill) error {
	return s.write(func() error { return s.Store.UpsertOwnedSkills(ctx, skills) })
}

func (s *dyingStore) TakeOverSkills(ctx context.Context, skills []store.OwnedSkill, settled []store.OpUpdate) error {
	return s.write(func() error { return s.Store.TakeOverSkills(ctx, skills, settled) })
}

func (s *dyingStore) DeleteOwnedSkills(ctx context.Context, ids []int64) error {
	return s.write(func() error { return s.Store.DeleteOwnedSkills(ctx, ids) })
}

func (s *dyingStore) SetPendingDeletes(ctx context.Context, pending []store.PendingDelete) error {
	return s.write(func() error { return s.Store.SetPendingDeletes(ctx, pending) })
}

func (s *dyingStore) SetSkillStates(ctx context.Context, states map[int64]SkillState) error {
	return s.write(func() error { return s.Store.SetSkillStates(ctx, states) })
}

// TestRunTakesOverCreatesOfARunThatDied: a run dies after LivePerson
// applied a create batch and before the answer arrived (lpsim applies the
// POST and drops the connection; the process is gone before it can
// re-read). The next dry run shows those skills as taken over and writes
// nothing; the next apply run registers them (no duplicate, no unmanaged
// conflict), creates the rest, and settles the dead run's journal, so
// that releasing one of them later sticks.
func TestRunTakesOverCreatesOfARunThatDied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	dying := &dyingStore{Store: e.store}
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 2 {
			e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, LoseResponse: true, Times: 1})
		}
	}
	e.skills.afterCreate = func(n int) {
		if n == 2 {
			dying.die()
		}
	}
	if res, err := e.runnerWith(e.cfg, dying).RunOnce(ctx, store.ModeApply, store.TriggerSchedule); err == nil {
		t.Fatalf("the dying run recorded itself: %+v", res.Run)
	}
	e.skills.beforeCreate, e.skills.afterCreate = nil, nil
	if n := len(e.sim.Skills(true)); n != 4 {
		t.Fatalf("%d skills in LivePerson after the death, want 4 (two batches of 2)", n)
	}
	if got := e.ownedNames(); !slices.Equal(got, []string{"Team 0000", "Team 0001"}) {
		t.Fatalf("registry after the death %q, want the first batch only", got)
	}
	runs, err := e.store.ListRuns(ctx, 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != store.OutcomeRunning {
		t.Fatalf("runs after the death %+v, %v", runs, err)
	}
	dead := runs[0].ID

	// A dry run shows the takeover and writes nothing of it.
	r := e.runner(e.cfg)
	res := e.run(r, store.ModePlan)
	if res.Run.Outcome != store.OutcomePlanned {
		t.Fatalf("dry run %s (%s)", res.Run.Outcome, res.Run.Error)
	}
	var got []string
	for _, c := range res.Plan.Changes {
		got = append(got, fmt.Sprintf("%s %s adopt=%v run=%d", c.Action, c.Skill, c.Adopt, c.CreatedByRun))
	}
	want := []string{
		fmt.Sprintf("update Team 0002 adopt=true run=%d", dead),
		fmt.Sprintf("update Team 0003 adopt=true run=%d", dead),
		"create Team 0004 adopt=false run=0",
		"create Team 0005 adopt=false run=0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("dry run changes\n got %q\nwant %q", got, want)
	}
	if s := res.Plan.Summary(); s.UnmanagedConflict != 0 {
		t.Errorf("dry run summary %+v", s)
	}
	if got := e.ownedNames(); len(got) != 2 {
		t.Errorf("the dry run registered %q", got)
	}
	// It closed the dead run (it holds the lock), and left its journal.
	run, _, err := e.store.GetRun(ctx, dead)
	if err != nil || run.Outcome != store.OutcomeInterrupted {
		t.Errorf("dead run after the dry run: %+v, %v", run, err)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 2 {
		t.Errorf("the dry run settled the journal: %+v", unconfirmed)
	}

	e.sim.ResetLog()
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != 2 || res.Run.Counts.Failed != 0 {
		t.Fatalf("apply run %s counts %+v (%s)", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if n := len(e.sim.Skills(true)); n != 6 {
		t.Errorf("%d skills in LivePerson, want 6 (no duplicates)", n)
	}
	if n := e.sim.Count("POST", skillsPath); n != 1 {
		t.Errorf("%d create calls, want 1 (the two never created)", n)
	}
	if got := e.ownedNames(); len(got) != 6 {
		t.Errorf("registry %q, want all six", got)
	}
	owned, _ := e.store.OwnedSkills(ctx)
	for _, o := range owned {
		if (o.Name == "Team 0002" || o.Name == "Team 0003") && (o.CreatedByRun == nil || *o.CreatedByRun != dead || o.RuleKey == "" || o.Adopted) {
			t.Errorf("taken over as %+v", o)
		}
	}
	_, ops, err := e.store.GetRun(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	resolved := 0
	for _, op := range ops {
		if op.State == store.OpResolved {
			resolved++
			if !strings.HasPrefix(op.Error, fmt.Sprintf("outcome unknown; resolved by run %d: skill ", res.Run.ID)) || op.SkillID == nil {
				t.Errorf("resolved row %+v", op)
			}
		}
	}
	if resolved != 2 {
		t.Errorf("journal of the dead run %+v, want its two sent creates resolved", ops)
	}
	if res = e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("next run %s: %+v", res.Run.Outcome, res.Plan.Changes)
	}

	// A release sticks: the settled journal does not take it back.
	if _, err := e.store.ReleaseSkill(ctx, "Team 0002"); err != nil {
		t.Fatal(err)
	}
	res = e.run(r, store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != 1 || s.Update != 0 || len(res.Plan.Takeovers) != 0 {
		t.Errorf("after release: %+v %+v", s, res.Plan.Changes)
	}
	if got := e.ownedNames(); slices.Contains(got, "Team 0002") {
		t.Errorf("released skill managed again: %q", got)
	}
}
