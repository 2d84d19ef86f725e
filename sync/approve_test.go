package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// approve is r.Approve by "alice".
func approve(r *Runner, id int64) (*Result, error) {
	return r.Approve(context.Background(), id, "alice")
}

func (e *testEnv) runCount() int {
	e.t.Helper()
	runs, err := e.store.ListRuns(context.Background(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(runs)
}

// TestApproveRefusedRun: a run the source-health guard refused stores the
// plan it would have applied; approving it applies exactly that plan (the
// guard overridden once, the stored delete budget kept), records who
// approved it, and makes its HR snapshot the headcount baseline: the next
// normal run is accepted, and a further drop is refused again.
func TestApproveRefusedRun(t *testing.T) {
	t.Parallel()
	cfg := teamConfig()
	cfg.Sync.DeleteAfterRuns = 1
	e := setup(t, manyHR(10), cfg)
	r := e.runner(cfg)
	e.run(r, store.ModeApply)
	e.writeHR(manyHR(7)) // 30% fewer active: refused
	refused := e.run(r, store.ModeApply)
	if refused.Run.Outcome != store.OutcomeRefused || refused.Plan == nil {
		t.Fatalf("refused run: %s, plan %v", refused.Run.Outcome, refused.Plan)
	}
	// Ten owned, 25%: two deletes now, one waits for the budget.
	if s := refused.Plan.Summary(); s.Delete != 2 || s.PendingDelete != 1 {
		t.Fatalf("the refused run's plan: %+v", s)
	}
	sp, err := e.store.GetPlan(context.Background(), refused.Run.ID)
	if err != nil || sp.RefusedBy != guardSourceHealth || sp.Refusal == "" || sp.HRFingerprint == "" || sp.SkillsRevision == "" || sp.DeleteBudget != 2 {
		t.Fatalf("stored plan %+v %v", sp, err)
	}
	writes := e.writes()

	res, err := approve(r, refused.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	run := res.Run
	if run.Outcome != store.OutcomeApplied || run.Counts.Delete != 2 || run.Trigger != store.TriggerApproval ||
		run.ApprovedRun == nil || *run.ApprovedRun != refused.Run.ID || run.ApprovedBy != "alice" {
		t.Fatalf("approval run: %+v (%s)", run, run.Error)
	}
	if stored, _, _ := e.store.GetRun(context.Background(), run.ID); stored.ApprovedRun == nil || stored.ApprovedBy != "alice" || stored.Trigger != store.TriggerApproval {
		t.Fatalf("approval run as stored: %+v", stored)
	}
	if got := e.sim.Count("DELETE", skillsPath) + e.sim.Count("PUT", skillsPath); e.writes() == writes || got == 0 {
		t.Fatalf("no deletes written")
	}
	if _, err := approve(r, refused.Run.ID); !isStale(err, "applied already") {
		t.Fatalf("second approval: %v", err)
	}
	// The approved snapshot is the baseline: 7 active is no drop.
	next := e.run(r, store.ModeApply)
	if next.Run.Outcome == store.OutcomeRefused {
		t.Fatalf("the run after the approval was refused: %s", next.Run.Error)
	}
	// The guard is still on: 7 → 5 is a drop of 28%.
	e.writeHR(manyHR(5))
	if again := e.run(r, store.ModeApply); again.Run.Outcome != store.OutcomeRefused {
		t.Fatalf("a further drop: %s, want refused", again.Run.Outcome)
	}
}

func isStale(err error, reason string) bool {
	var s *StaleError
	return errors.As(err, &s) && strings.Contains(s.Reason, reason) && strings.Contains(err.Error(), "run skillsync plan again")
}

// TestApproveStale: each reason a stored plan is stale refuses the
// approval before any write, and records no run.
func TestApproveStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		reason string
		// change moves the world after the dry run; it returns the
		// runner that approves.
		change func(t *testing.T, e *testEnv, r *Runner, planRun int64) *Runner
	}{
		{"hr changed", "HR records changed", func(t *testing.T, e *testEnv, r *Runner, _ int64) *Runner {
			e.writeHR(manyHR(5) + "6,p6@example.com,P6,Team 0099,Agent,active,\r\n")
			return r
		}},
		{"revision moved", "LivePerson changed", func(t *testing.T, e *testEnv, r *Runner, _ int64) *Runner {
			e.sim.SeedSkills(map[string]any{"name": "made by hand"})
			return r
		}},
		{"too old", "sync.plan_max_age", func(t *testing.T, e *testEnv, r *Runner, _ int64) *Runner {
			r.deps.Now = func() time.Time { return time.Now().Add(DefaultPlanMaxAge + time.Minute) }
			return r
		}},
		{"applied already", "applied already", func(t *testing.T, e *testEnv, r *Runner, id int64) *Runner {
			if _, err := approve(r, id); err != nil {
				t.Fatal(err)
			}
			return r
		}},
		{"config changed", "differs from the stored one", func(t *testing.T, e *testEnv, r *Runner, _ int64) *Runner {
			cfg := teamConfig()
			cfg.Skills.Defaults.MaxWaitTime = ptr(60)
			return e.runner(cfg)
		}},
		{"records reordered", "", func(t *testing.T, e *testEnv, r *Runner, _ int64) *Runner {
			// The same records in another order (and other columns
			// order) are the same plan: not stale.
			lines := strings.Split(strings.TrimSpace(manyHR(5)), "\r\n")
			rows := lines[1:]
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			e.writeHR(strings.Join(append(lines[:1], rows...), "\r\n") + "\r\n")
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, manyHR(5), teamConfig())
			r := e.runner(e.cfg)
			dry := e.run(r, store.ModePlan)
			r = tt.change(t, e, r, dry.Run.ID)
			runs, writes := e.runCount(), e.writes()
			res, err := approve(r, dry.Run.ID)
			if tt.reason == "" {
				if err != nil || res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Create != 5 {
					t.Fatalf("approval: %+v %v", res, err)
				}
				return
			}
			if !isStale(err, tt.reason) || res != nil {
				t.Fatalf("approval: %+v %v, want stale: %s", res, err, tt.reason)
			}
			if e.writes() != writes || e.runCount() != runs {
				t.Fatalf("a stale approval wrote %d times, recorded %d runs", e.writes()-writes, e.runCount()-runs)
			}
			if _, err := e.store.GetPlan(ctx, dry.Run.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		e := setup(t, manyHR(2), teamConfig())
		r := e.runner(e.cfg)
		applied := e.run(r, store.ModeApply) // an apply run stores no plan
		for _, id := range []int64{applied.Run.ID, 999} {
			if _, err := approve(r, id); !errors.Is(err, ErrNoPlan) {
				t.Errorf("approve %d: %v, want ErrNoPlan", id, err)
			}
		}
	})
}

// TestApproveConcurrently: two replicas approving one plan at once: exactly
// one applies it.
func TestApproveConcurrently(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	dry := e.run(e.runner(e.cfg), store.ModePlan)
	for range 5 {
		replicas := []*Runner{e.runner(e.cfg), e.runner(e.cfg)}
		results := make([]*Result, 2)
		errs := make([]error, 2)
		var wg gosync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() { results[i], errs[i] = approve(r, dry.Run.ID) })
		}
		wg.Wait()
		applied := 0
		for i := range replicas {
			switch {
			case errs[i] == nil && results[i].Run.Outcome == store.OutcomeApplied:
				applied++
			case errors.Is(errs[i], ErrRunInProgress) || isStale(errs[i], "applied already"):
			default:
				t.Fatalf("replica %d: %+v %v", i, results[i], errs[i])
			}
		}
		if applied > 1 {
			t.Fatalf("%d replicas applied the plan", applied)
		}
		if applied == 1 {
			break
		}
	}
	if n := e.sim.Count("POST", skillsPath); n != 3 || len(e.liveSkills()) != 6 {
		t.Fatalf("%d create calls, %d skills: want the plan applied once", n, len(e.liveSkills()))
	}
}

// updateHook runs before each UpdateSkills call (n counts them from 1).
type updateHook struct {
	SkillsAPI
	n      int
	before func(n int)
}

func (u *updateHook) UpdateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error) {
	u.n++
	u.before(u.n)
	return u.SkillsAPI.UpdateSkills(ctx, rev, skills)
}

// TestApproveLivePersonMovesMidApply: LivePerson moving while an approved
// plan is written stops the run, partial, without re-planning the rest.
func TestApproveLivePersonMovesMidApply(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	e.run(e.runner(e.cfg), store.ModeApply)
	cfg := teamConfig()
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	hook := &updateHook{SkillsAPI: e.skills, before: func(n int) {
		if n == 2 { // someone edits the account after our first batch
			e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsPath, ConcurrentEdit: true, Times: 1})
		}
	}}
	e.skills = &hookSkills{SkillsAPI: hook}
	r := e.runner(cfg)
	dry := e.run(r, store.ModePlan)
	if s := dry.Plan.Summary(); s.Update != 6 {
		t.Fatalf("dry run: %+v", s)
	}
	res, err := approve(r, dry.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Update != 2 || !strings.Contains(res.Run.Error, "run skillsync plan again") {
		t.Fatalf("approval run: %s, counts %+v, %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	if n := e.sim.Count("PUT", skillsPath); n != 2 {
		t.Fatalf("%d update calls, want 2 (the second refused, nothing re-planned)", n)
	}
	// The rest waits for a new plan; this one is used up.
	if _, err := approve(r, dry.Run.ID); !isStale(err, "applied already") {
		t.Fatalf("second approval: %v", err)
	}
}

// TestApproveRemovalCapRefusal: approving a dry run the assignments
// removal cap refused makes the removals it held, once; the stored plan
// carries the users revision it read.
func TestApproveRemovalCapRefusal(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	cfg.Assignments.MaxChangesPercent = 30
	cfg.Assignments.KeepUnmatched = false
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Sales,Agent,active",
		"3,c@example.com,C,Sales,Agent,active", "4,d@example.com,D,Sales,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com", "c@example.com", "d@example.com")
	r := e.runnerHR(cfg, roleFields)
	if res := e.run(r, store.ModeApply); res.Run.Counts.Assign != 4 {
		t.Fatalf("first run %+v", res.Run.Counts)
	}
	// Every agent leaves Sales for Billing, at once: a real reorganisation
	// (Sales stays, with a newcomer who has no LivePerson user yet).
	e.writeHR(roleHR("1,a@example.com,A,Billing,Agent,active", "2,b@example.com,B,Billing,Agent,active",
		"3,c@example.com,C,Billing,Agent,active", "4,d@example.com,D,Billing,Agent,active", "5,e@example.com,E,Sales,Agent,active"))
	dry := e.run(r, store.ModePlan)
	if dry.Run.Outcome != store.OutcomeRefused || dry.Plan == nil || dry.Plan.Assignments.HeldBack != 4 {
		t.Fatalf("dry run: %s %q", dry.Run.Outcome, dry.Refusal)
	}
	sp, err := e.store.GetPlan(context.Background(), dry.Run.ID)
	if err != nil || sp.RefusedBy != guardAssignments || sp.UsersRevision == "" || sp.UsersRevision != sp.SkillsRevision {
		t.Fatalf("stored plan %+v %v", sp, err)
	}
	res, err := approve(r, dry.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Unassign != 4 || res.Run.Counts.Assign != 4 {
		t.Fatalf("approval: %s %+v %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
	for em, held := range e.userSkills() {
		if !slices.Equal(held, []string{"Billing"}) {
			t.Errorf("%s holds %v, want [Billing]", em, held)
		}
	}
}
