package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// laggingList applies the first create batch but loses its answer; from
// then on, while lag is set, the skill list hides skill, as a list that
// lags behind a create would.
type laggingList struct {
	SkillsAPI
	skill string

	mu    gosync.Mutex
	calls int
	lag   bool
}

func (l *laggingList) CreateSkills(ctx context.Context, rev string, s []liveperson.Skill) ([]liveperson.Skill, string, error) {
	l.mu.Lock()
	l.calls++
	first := l.calls == 1
	l.mu.Unlock()
	out, next, err := l.SkillsAPI.CreateSkills(ctx, rev, s)
	if first && err == nil {
		l.mu.Lock()
		l.lag = true
		l.mu.Unlock()
		return nil, next, fmt.Errorf("POST skills: %w", liveperson.ErrOutcomeUnknown)
	}
	return out, next, err
}

func (l *laggingList) ListSkillsAt(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, string, error) {
	out, rev, err := l.SkillsAPI.ListSkillsAt(ctx, includeDeleted)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lag {
		out = slices.DeleteFunc(out, func(s liveperson.Skill) bool { return s.Name == l.skill })
	}
	return out, rev, err
}

func (l *laggingList) catchUp() {
	l.mu.Lock()
	l.lag = false
	l.mu.Unlock()
}

// TestRunLostAnswerAndLaggingListLeavesTheCreateSent: a create batch is
// applied but its answer is lost, and the re-read right after does not
// show Billing yet. The run does not POST Billing again (LivePerson would
// refuse the name, and a failed row would orphan the skill): its row stays
// sent, and the next run, which sees Billing, takes it over.
func TestRunLostAnswerAndLaggingListLeavesTheCreateSent(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	lag := &laggingList{SkillsAPI: e.client, skill: "Billing"}
	e.skills.SkillsAPI = lag
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Failed != 1 || res.Run.Counts.Create != 5 {
		t.Fatalf("run 1: outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if n := e.sim.Count("POST", skillsPath); n != 1 {
		t.Errorf("run 1: %d creates sent, want 1: nothing is sent again after a lost answer", n)
	}
	_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Action == "create" && op.SkillName == "Billing" && (op.State != store.OpSent || !strings.Contains(op.Error, "the next run settles it")) {
			t.Errorf("run 1: Billing's create row %s %q, want sent, for the next run to settle", op.State, op.Error)
		}
	}
	if n := countNamedLive(e, "Billing"); n != 1 {
		t.Fatalf("%d live Billing skills, want 1", n)
	}

	lag.catchUp()
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("run 2: outcome %s error %q", res.Run.Outcome, res.Run.Error)
	}
	if s := res.Plan.Summary(); s.UnmanagedConflict != 0 || s.Create != 0 {
		t.Fatalf("run 2: summary %+v, want no conflict and no create", s)
	}
	if got := resolutions(res.Plan); !slices.Equal(got, []string{"Billing taken_over"}) {
		t.Fatalf("run 2: resolutions %v", got)
	}
	if !slices.Contains(e.ownedNames(), "Billing") || countNamedLive(e, "Billing") != 1 || e.sim.Count("POST", skillsPath) != 1 {
		t.Fatalf("Billing, created by skillsync, not owned once: owned %v, %d live, %d creates", e.ownedNames(), countNamedLive(e, "Billing"), e.sim.Count("POST", skillsPath))
	}
	if res = e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
		t.Fatalf("run 3: outcome %s, want no_changes", res.Run.Outcome)
	}
}

func resolutions(p *Plan) []string {
	var out []string
	for _, r := range p.Unconfirmed {
		out = append(out, r.Skill+" "+r.Resolution)
	}
	return out
}

func countNamedLive(e *testEnv, name string) int {
	n := 0
	for _, s := range e.sim.Skills(false) {
		if s["name"] == name {
			n++
		}
	}
	return n
}

// normalising creates what it is sent with max wait time changed (as if
// LivePerson normalised the value on create) and loses the answer of its
// first call.
type normalising struct {
	SkillsAPI
	mu    gosync.Mutex
	calls int
}

func (n *normalising) CreateSkills(ctx context.Context, rev string, s []liveperson.Skill) ([]liveperson.Skill, string, error) {
	n.mu.Lock()
	n.calls++
	first := n.calls == 1
	n.mu.Unlock()
	sent := slices.Clone(s)
	for i := range sent {
		sent[i].MaxWaitTime = ptr(600)
	}
	out, next, err := n.SkillsAPI.CreateSkills(ctx, rev, sent)
	if first && err == nil {
		return nil, next, fmt.Errorf("POST skills: %w", liveperson.ErrOutcomeUnknown)
	}
	return out, next, err
}

// TestRunLostCreateNotWhatWasSentIsNotOurs: a create whose answer is lost
// is matched by every field it sent. Skills whose max wait time is not
// the one sent are not provably skillsync's (someone may have made them by
// hand in between): they are not taken over, in the run nor in the next,
// which reports each as an unmanaged conflict saying why, and nothing is
// created twice.
func TestRunLostCreateNotWhatWasSentIsNotOurs(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	e.skills.SkillsAPI = &normalising{SkillsAPI: e.client}
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	want := len(res.Plan.Changes)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Create != 0 || res.Run.Counts.Failed != want {
		t.Fatalf("run 1: outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if got := e.ownedNames(); len(got) != 0 {
		t.Fatalf("owned %v, want none", got)
	}
	e.skills.SkillsAPI = e.client
	res = e.run(r, store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != want || s.Create != 0 || s.Update != 0 || len(res.Plan.Takeovers) != 0 {
		t.Fatalf("run 2: summary %+v takeovers %+v", s, res.Plan.Takeovers)
	}
	for _, c := range res.Plan.Changes {
		if !strings.Contains(c.Reason, "is not provably the one it made (max_wait_time is 600, not 120 as sent)") {
			t.Errorf("run 2: %s %s: reason %q does not say why", c.Action, c.Skill, c.Reason)
		}
	}
	for _, r := range res.Plan.Unconfirmed {
		if r.Resolution != ResolutionNotOurs {
			t.Errorf("run 2: resolution %+v", r)
		}
	}
	if n := e.sim.Count("POST", skillsPath); n != 1 || len(e.sim.Skills(true)) != want {
		t.Errorf("%d creates sent, %d skills; want 1 and %d", n, len(e.sim.Skills(true)), want)
	}
}
