package sync

import (
	"fmt"
	"testing"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestDeleteWaitsWhenItsNameIsNotFreed (the chaos soak's seed 684): the
// rename that frees a skill's name before its delete fails (LivePerson
// answers 503 past the retries). The delete must not go ahead: LivePerson
// keeps the names of deleted skills, so the team, back in HR, could never
// have its skill again. The skill stays pending; the next run frees the
// name and deletes it, and the returning team gets a skill.
func TestDeleteWaitsWhenItsNameIsNotFreed(t *testing.T) {
	t.Parallel()
	cfg := roleConfig("{{ .dept }}")
	hr := roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Tiny,Agent,active")
	e := setup(t, hr, cfg)
	seedUsers(e, "a@example.com", "b@example.com")
	r := e.runnerHR(cfg, roleFields)
	e.run(r, store.ModeApply)
	tiny := e.skillIDOf("Tiny")
	if tiny == 0 {
		t.Fatal("Tiny not created")
	}
	e.writeHR(roleHR("1,a@example.com,A,Sales,Agent,active", "2,b@example.com,B,Tiny,Agent,left"))
	e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsPath, Status: 503, Times: 20})
	res := e.run(r, store.ModeApply)
	e.sim.ClearFaults()
	if res.Run.Outcome != store.OutcomePartial || res.Run.Counts.Delete != 0 {
		t.Fatalf("run with the rename refused: %s, counts %+v", res.Run.Outcome, res.Run.Counts)
	}
	if n := e.sim.Count("DELETE", skillsPath); n != 0 {
		t.Errorf("%d deletes sent although the name was not freed", n)
	}
	if e.skillIDOf("Tiny") != tiny {
		t.Fatalf("Tiny (%d) gone from the live skills: %v", tiny, e.liveSkills())
	}
	pending, err := e.store.PendingDeletes(t.Context())
	if err != nil || len(pending) != 1 || pending[0].SkillID != tiny {
		t.Errorf("pending deletes %+v, %v: want Tiny kept pending", pending, err)
	}

	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Delete != 1 || e.skillIDOf("Tiny") != 0 {
		t.Fatalf("next run: %s, counts %+v, skills %v", res.Run.Outcome, res.Run.Counts, e.liveSkills())
	}
	e.writeHR(hr)
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Plan.Summary().UnmanagedConflict != 0 || e.skillIDOf("Tiny") == 0 {
		t.Errorf("Tiny back in HR: %s, changes %+v, skills %v", res.Run.Outcome, res.Plan.Changes, e.liveSkills())
	}
	if got := fmt.Sprint(e.userSkills()); got != "map[a@example.com:[Sales] b@example.com:[Tiny]]" {
		t.Errorf("users %s", got)
	}
}
