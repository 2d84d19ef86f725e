package sync

import (
	"strconv"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestPlanCarriesItsRevision: a plan says which account revision it was
// made from, and a re-plan after writes the revision of its fresh read.
func TestPlanCarriesItsRevision(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r := e.runner(e.cfg)
	before := strconv.FormatInt(e.sim.Revision(), 10)
	res := e.run(r, store.ModePlan)
	if res.Plan.Revision != before {
		t.Errorf("dry run's plan made from revision %q, want %q", res.Plan.Revision, before)
	}
	e.run(r, store.ModeApply)
	after := strconv.FormatInt(e.sim.Revision(), 10)
	if after == before {
		t.Fatal("the apply run moved no revision")
	}
	if res := e.run(r, store.ModePlan); res.Plan.Revision != after {
		t.Errorf("plan after the writes made from revision %q, want %q", res.Plan.Revision, after)
	}
}
