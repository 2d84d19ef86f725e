package sync

import (
	"context"
	"slices"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestLostCreateFromALaggingPlanIsNotSettledAbsent: the plan's own skill
// list lagged one change behind (someone made a skill by hand just
// before), so the creates went out under that older revision; LivePerson
// does not check If-Match on create, and made them. The process died
// before the answer. HR then drops the teams, and the next run's list
// lags one change (the create) behind, at a revision later than the one
// the creates were sent under but earlier than the creates. That list
// proves nothing (and that run makes no write LivePerson checks against
// its revision): the rows must stay unsettled, and the run whose list
// shows the skills takes them over (they must not be nobody's for good).
func TestLostCreateFromALaggingPlanIsNotSettledAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig())
	e.sim.SeedSkills(map[string]any{"name": "Made by hand", "description": "x"})
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsPath, Lag: 1, Times: 1})
	dying := &dyingStore{Store: e.store}
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, LoseResponse: true, Times: 1})
		}
	}
	e.skills.afterCreate = func(n int) {
		if n == 1 {
			dying.die()
		}
	}
	if res, err := e.runnerWith(e.cfg, dying).RunOnce(ctx, store.ModeApply, store.TriggerSchedule); err == nil {
		t.Fatalf("the dying run recorded itself: %+v", res.Run)
	}
	e.skills.beforeCreate, e.skills.afterCreate = nil, nil
	if n := len(e.sim.Skills(false)); n != 3 {
		t.Fatalf("%d skills after the death, want 3", n)
	}

	e.writeHR(hrCSV("1,p1@example.com,P1,Team 0008,Agent,active,", "2,p2@example.com,P2,Team 0009,Agent,active,"))
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsPath, Lag: 1, Times: 1})
	r := e.runner(e.cfg)
	e.run(r, store.ModeApply)
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 2 {
		t.Errorf("the lagging run settled %d creates: %+v", 2-len(unconfirmed), unconfirmed)
	}

	// The list caught up: the killed run's skills are ours.
	e.run(r, store.ModeApply)
	owned := e.ownedNames()
	for _, name := range []string{"Team 0000", "Team 0001"} {
		if !slices.Contains(owned, name) {
			t.Errorf("registry %q: %s, made by the killed run, is nobody's", owned, name)
		}
	}
}

// TestAbsentCreateSettledOnceAWriteProvesTheList: a create that never
// reached LivePerson (its run died) is settled as not made by the next run
// once that run's first write, made at the revision of the list that did
// not show it, proves the list current.
func TestAbsentCreateSettledOnceAWriteProvesTheList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig())
	dying := &dyingStore{Store: e.store}
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			dying.die()
			e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Status: 503, Times: 1})
		}
	}
	if res, err := e.runnerWith(e.cfg, dying).RunOnce(ctx, store.ModeApply, store.TriggerSchedule); err == nil {
		t.Fatalf("the dying run recorded itself: %+v", res.Run)
	}
	e.skills.beforeCreate = nil
	if n := len(e.sim.Skills(false)); n != 0 {
		t.Fatalf("%d skills after the death, want none", n)
	}
	// The account moves on, so that the next list is read at a revision
	// later than the one the creates were sent under.
	e.sim.SeedSkills(map[string]any{"name": "Made by hand", "description": "x"})
	res := e.run(e.runner(e.cfg), store.ModeApply)
	var got []string
	for _, u := range res.Plan.Unconfirmed {
		got = append(got, u.Skill+" "+u.Resolution)
	}
	if want := []string{"Team 0000 absent", "Team 0001 absent"}; !slices.Equal(got, want) {
		t.Errorf("resolutions %q, want %q", got, want)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 0 {
		t.Errorf("still unconfirmed after a run whose create proved its list current: %+v", unconfirmed)
	}
	if owned := e.ownedNames(); len(owned) != 2 || len(e.sim.Skills(false)) != 3 {
		t.Errorf("registry %q", owned)
	}
}
