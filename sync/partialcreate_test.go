package sync

import (
	"context"
	"slices"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// lagAfterFirstCreate hides, from every list read while lag is set, the
// skills that the first create call made: a list that lags behind it.
type lagAfterFirstCreate struct {
	SkillsAPI
	sim *lpsim.Sim

	mu     gosync.Mutex
	calls  int
	hidden []string
}

func (l *lagAfterFirstCreate) CreateSkills(ctx context.Context, rev string, s []liveperson.Skill) ([]liveperson.Skill, string, error) {
	l.mu.Lock()
	l.calls++
	first := l.calls == 1
	l.mu.Unlock()
	out, next, err := l.SkillsAPI.CreateSkills(ctx, rev, s)
	if first {
		l.mu.Lock()
		for _, sk := range l.sim.Skills(false) {
			l.hidden = append(l.hidden, sk["name"].(string))
		}
		l.mu.Unlock()
	}
	return out, next, err
}

func (l *lagAfterFirstCreate) ListSkillsAt(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, string, error) {
	out, rev, err := l.SkillsAPI.ListSkillsAt(ctx, includeDeleted)
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.DeleteFunc(out, func(s liveperson.Skill) bool { return slices.Contains(l.hidden, s.Name) }), rev, err
}

func (l *lagAfterFirstCreate) catchUp() {
	l.mu.Lock()
	l.hidden = nil
	l.mu.Unlock()
}

// TestRunPartlyAppliedBatchAndLaggingListLeavesTheCreateSent: LivePerson
// applies the first item of a create batch and refuses the batch with a
// 400 (batches are not documented as atomic), and the re-read does not show
// the item it made yet. The items missing from the re-read are sent one by
// one, so that one bad item does not poison the others; the one already
// made is refused (its name is taken). That refusal does not say the
// create did not happen: its row stays sent and the next run, which sees
// the skill, takes it over, instead of leaving it someone else's for good.
func TestRunPartlyAppliedBatchAndLaggingListLeavesTheCreateSent(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	lag := &lagAfterFirstCreate{SkillsAPI: e.client, sim: e.sim}
	e.skills.SkillsAPI = lag
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, PartialApply: 1, Status: 400})
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	if len(lag.hidden) != 1 {
		t.Fatalf("the first create made %q, want one skill", lag.hidden)
	}
	first := lag.hidden[0]
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Failed != 1 {
		t.Fatalf("run 1: outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Action == "create" && op.SkillName == first && op.State != store.OpSent {
			t.Errorf("run 1: %s's create row is %s (%q), want sent, for the next run to settle", first, op.State, op.Error)
		}
	}

	lag.catchUp()
	res = e.run(r, store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != 0 || s.Create != 0 {
		t.Errorf("run 2: summary %+v, want no conflict and no create", s)
	}
	if !slices.Contains(e.ownedNames(), first) || countNamedLive(e, first) != 1 {
		t.Errorf("%s, created by skillsync, not owned once: owned %v, %d live", first, e.ownedNames(), countNamedLive(e, first))
	}
}

// cancelOnReread cancels the run once the applier re-reads the skills
// after the first create call: a shutdown between the re-read and the
// item-by-item resends.
type cancelOnReread struct {
	*lagAfterFirstCreate
	cancel context.CancelFunc
}

func (c *cancelOnReread) ListSkillsAt(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, string, error) {
	c.mu.Lock()
	created := c.calls > 0
	c.mu.Unlock()
	if created && includeDeleted {
		c.cancel()
	}
	return c.lagAfterFirstCreate.ListSkillsAt(ctx, includeDeleted)
}

// TestInterruptedResendLeavesRefusedBatchSent: as above, but the daemon
// shuts down after the re-read, before the items are sent again one by
// one. The refused batch may have made any of them (the re-read lags), so
// their rows stay sent rather than failed: the next run takes over the one
// it made and creates the others, instead of leaving it someone else's.
func TestInterruptedResendLeavesRefusedBatchSent(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lag := &cancelOnReread{lagAfterFirstCreate: &lagAfterFirstCreate{SkillsAPI: e.client, sim: e.sim}, cancel: cancel}
	e.skills.SkillsAPI = lag
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, PartialApply: 1, Status: 400})
	r := e.runner(e.cfg)
	res, _ := r.RunOnce(ctx, store.ModeApply, store.TriggerManual)
	if res == nil || len(lag.hidden) != 1 {
		t.Fatalf("run 1: result %v, the first create made %q; want one skill", res, lag.hidden)
	}
	first := lag.hidden[0]
	_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, op := range ops {
		if op.Action == "create" {
			creates++
			if op.State != store.OpSent {
				t.Errorf("run 1 (%s): %s's create row is %s (%q), want sent, for the next run to settle", res.Run.Outcome, op.SkillName, op.State, op.Error)
			}
		}
	}
	if creates < 2 {
		t.Fatalf("run 1 journaled %d creates, want the whole batch", creates)
	}

	lag.catchUp()
	res = e.run(r, store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != 0 {
		t.Errorf("run 2: summary %+v, want no conflict", s)
	}
	if !slices.Contains(e.ownedNames(), first) || countNamedLive(e, first) != 1 {
		t.Errorf("%s, created by skillsync, not owned once: owned %v, %d live", first, e.ownedNames(), countNamedLive(e, first))
	}
	if got, want := len(e.ownedNames()), creates; got != want {
		t.Errorf("run 2: %d skills owned (%v), want the %d of the batch", got, e.ownedNames(), want)
	}
}
