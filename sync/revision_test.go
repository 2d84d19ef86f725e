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

// TestApplierCarriesTheRevision: the applier sends the plan's revision
// with its first write and, with each later one, the revision the write
// before returned (a create's only when nothing else changed): with
// nobody else writing, each write's If-Match is one more than the one
// before, and none conflicts.
func TestApplierCarriesTheRevision(t *testing.T) {
	t.Parallel()
	e := setup(t, manyHR(5), teamConfig(), withBatch(2))
	check := func(method string, res *Result, from int) {
		t.Helper()
		var sent []string
		for _, r := range e.sim.Requests()[from:] {
			if r.Method == method && r.Path == skillsPath {
				sent = append(sent, r.IfMatch)
			}
		}
		want := res.Plan.Revision
		for i, got := range sent {
			if got != want {
				t.Errorf("%s %d of %d sent If-Match %q, want %q (%v)", method, i+1, len(sent), got, want, sent)
			}
			n, _ := strconv.Atoi(want)
			want = strconv.Itoa(n + 1)
		}
		if len(sent) != 3 || res.Run.Outcome != store.OutcomeApplied {
			t.Fatalf("%d %s requests, outcome %s %q; want 3, applied", len(sent), method, res.Run.Outcome, res.Run.Error)
		}
	}
	res := e.run(e.runner(e.cfg), store.ModeApply)
	check("POST", res, 0)
	cfg := teamConfig()
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	from := len(e.sim.Requests())
	res = e.run(e.runner(cfg), store.ModeApply)
	check("PUT", res, from)
}
