package sync

import (
	"context"
	"fmt"
	"slices"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// lostResend loses the answer of the first create (a batch, which creates
// nothing), then applies the one-by-one resend of skill and loses its
// answer too; from then on, while lag is set, the skill list hides the
// skill, as a list that lags behind a create would.
type lostResend struct {
	SkillsAPI
	skill string

	mu    gosync.Mutex
	calls int
	lag   bool
}

func (l *lostResend) CreateSkills(ctx context.Context, s []liveperson.Skill) ([]liveperson.Skill, error) {
	l.mu.Lock()
	l.calls++
	first := l.calls == 1
	l.mu.Unlock()
	if first {
		return nil, fmt.Errorf("POST skills: %w", liveperson.ErrOutcomeUnknown)
	}
	if len(s) == 1 && s[0].Name == l.skill {
		if _, err := l.SkillsAPI.CreateSkills(ctx, s); err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.lag = true
		l.mu.Unlock()
		return nil, fmt.Errorf("POST skills: %w", liveperson.ErrOutcomeUnknown)
	}
	return l.SkillsAPI.CreateSkills(ctx, s)
}

func (l *lostResend) ListSkills(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, error) {
	out, err := l.SkillsAPI.ListSkills(ctx, includeDeleted)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lag {
		out = slices.DeleteFunc(out, func(s liveperson.Skill) bool { return s.Name == l.skill })
	}
	return out, err
}

// TestRunLostResendSettledNextRun: a batch create's answer is lost, the
// one-by-one resend of Billing is applied but its answer is lost too, and
// the re-read right after does not show Billing yet. The run counts the
// create as failed, but its journal row stays sent: the next run, which
// sees Billing, takes it over instead of calling it someone else's.
func TestRunLostResendSettledNextRun(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	lr := &lostResend{SkillsAPI: e.client, skill: "Billing"}
	e.skills.SkillsAPI = lr
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Failed != 1 {
		t.Fatalf("run 1: outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	_, ops, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var states []store.OpState
	for _, op := range ops {
		if op.Action == "create" && op.SkillName == "Billing" {
			states = append(states, op.State)
		}
	}
	if !slices.Equal(states, []store.OpState{store.OpSent}) {
		t.Fatalf("run 1: Billing's create rows %v, want [sent] (left for the next run to settle)", states)
	}
	if n := countNamedLive(e, "Billing"); n != 1 {
		t.Fatalf("%d live Billing skills, want 1", n)
	}

	// The list catches up.
	lr.mu.Lock()
	lr.lag = false
	lr.mu.Unlock()
	e.skills.SkillsAPI = e.client
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
	if !slices.Contains(e.ownedNames(), "Billing") {
		t.Fatalf("Billing, created by skillsync, not owned: %v", e.ownedNames())
	}
	if n := countNamedLive(e, "Billing"); n != 1 {
		t.Fatalf("%d live Billing skills, want 1", n)
	}
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeNoChanges {
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

func (n *normalising) CreateSkills(ctx context.Context, s []liveperson.Skill) ([]liveperson.Skill, error) {
	n.mu.Lock()
	n.calls++
	first := n.calls == 1
	n.mu.Unlock()
	sent := slices.Clone(s)
	for i := range sent {
		sent[i].MaxWaitTime = ptr(600)
	}
	out, err := n.SkillsAPI.CreateSkills(ctx, sent)
	if first && err == nil {
		return nil, fmt.Errorf("POST skills: %w", liveperson.ErrOutcomeUnknown)
	}
	return out, err
}

// TestRunLostCreateNormalisedIsOurs: a create whose answer is lost is
// matched by name and description only. LivePerson changing another
// managed field on create (here max wait time) must not make skillsync's
// own skills look like someone else's.
func TestRunLostCreateNormalisedIsOurs(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	e.skills.SkillsAPI = &normalising{SkillsAPI: e.client}
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	want := len(res.Plan.Changes)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != want || res.Run.Counts.Failed != 0 {
		t.Fatalf("run 1: outcome %s counts %+v error %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if n := e.sim.Count("POST", skillsPath); n != 1 {
		t.Fatalf("%d creates sent, want 1: every skill was found after the lost answer", n)
	}
	if got := e.ownedNames(); len(got) != want {
		t.Fatalf("owned %v, want all %d created skills", got, want)
	}
	e.skills.SkillsAPI = e.client
	res = e.run(r, store.ModeApply)
	if s := res.Plan.Summary(); s.UnmanagedConflict != 0 || s.Create != 0 {
		t.Fatalf("run 2: summary %+v", s)
	}
}

func TestMadeBy(t *testing.T) {
	t.Parallel()
	body := liveperson.Skill{Name: "Billing", Description: "Billing staff", MaxWaitTime: ptr(120)}
	for _, tc := range []struct {
		name string
		live liveperson.Skill
		want bool
	}{
		{"same", body, true},
		{"other case and spaces", liveperson.Skill{Name: " billing ", Description: "Billing staff "}, true},
		{"a managed field normalised", liveperson.Skill{Name: "Billing", Description: "Billing staff", MaxWaitTime: ptr(600)}, true},
		{"other description", liveperson.Skill{Name: "Billing", Description: "made by hand", MaxWaitTime: ptr(120)}, false},
		{"other name", liveperson.Skill{Name: "Billing 2", Description: "Billing staff"}, false},
	} {
		if got := madeBy(&tc.live, &body); got != tc.want {
			t.Errorf("%s: madeBy = %v, want %v", tc.name, got, tc.want)
		}
	}
}
