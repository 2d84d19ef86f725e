package sync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestRunDeletesHeldWithoutUsersRead: with assignments off, skillsync still
// reads users before deleting (it does not delete a skill an agent holds).
// Credentials that may not read users (403) do not fail the run: the
// deletes wait as pending, their grace count not advanced, and the plan
// says what to grant. Once users can be read, the delete goes ahead.
func TestRunDeletesHeldWithoutUsersRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := deptConfig()
	cfg.Sync.MaxActiveDropPercent = -1 // 2: "German speakers" goes after two runs without it
	e := setup(t, baseHR, cfg)
	r := e.runner(cfg)
	e.run(r, store.ModeApply)
	// Nobody speaks German any more.
	e.writeHR(hrCSV(
		"1,ann@example.com,Ann,Sales,Manager,active,French",
		"2,bob@example.com,Bob,Sales,Agent,active,",
		"3,cid@example.com,Cid,Billing,Agent,active,",
		"4,dee@example.com,Dee,Support,Agent,active,French",
		"5,eve@example.com,Eve,Support,Agent,left,",
	))
	res := e.run(r, store.ModeApply)
	if !slices.Contains(changesOf(res.Plan, ActionPendingDelete), "German speakers") {
		t.Fatalf("run 2: changes %v, want German speakers pending", changesOf(res.Plan, ""))
	}
	pendingRuns := func() int {
		t.Helper()
		pd, err := e.store.PendingDeletes(ctx)
		if err != nil || len(pd) != 1 {
			t.Fatalf("pending deletes %+v, %v", pd, err)
		}
		return pd[0].ConsecutiveMissingRuns
	}
	if n := pendingRuns(); n != 1 {
		t.Fatalf("grace count %d after run 2, want 1", n)
	}

	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: usersPath, Status: 403, Times: 100})
	for run := 3; run <= 4; run++ {
		res = e.run(r, store.ModeApply)
		if res.Run.Outcome == store.OutcomeFailed {
			t.Fatalf("run %d failed: %s", run, res.Run.Error)
		}
		if d := changesOf(res.Plan, ActionDelete); len(d) != 0 {
			t.Fatalf("run %d: deletes %v without reading users", run, d)
		}
		if !slices.Contains(changesOf(res.Plan, ActionPendingDelete), "German speakers") {
			t.Fatalf("run %d: changes %v, want German speakers held pending", run, changesOf(res.Plan, ""))
		}
		if w := strings.Join(res.Plan.Warnings, "\n"); !strings.Contains(w, "403") || !strings.Contains(w, "Users read") || !strings.Contains(w, "users.read") {
			t.Fatalf("run %d: warnings %q, want the 403 and what to grant", run, w)
		}
		if res.Plan.HasChanges() {
			t.Fatalf("run %d: a held delete is not a change", run)
		}
		if n := pendingRuns(); n != 1 {
			t.Fatalf("run %d: grace count %d, want 1 (not advanced while held)", run, n)
		}
		if countNamedLive(e, "German speakers") != 1 {
			t.Fatalf("run %d: German speakers deleted", run)
		}
	}

	// Users read granted: the delete goes ahead.
	e.sim.ClearFaults()
	res = e.run(r, store.ModeApply)
	if res.Run.Outcome != store.OutcomeApplied || res.Run.Counts.Delete != 1 || countNamedLive(e, "German speakers") != 0 {
		t.Fatalf("run 5: outcome %s counts %+v %q", res.Run.Outcome, res.Run.Counts, res.Run.Error)
	}
}

// changesOf names the plan's changes of one action ("" for all, as
// "action skill").
func changesOf(p *Plan, a Action) []string {
	var out []string
	for _, c := range p.Changes {
		switch {
		case a == "":
			out = append(out, string(c.Action)+" "+c.Skill)
		case c.Action == a:
			out = append(out, c.Skill)
		}
	}
	return out
}

// TestRunUsersRefusedWithAssignments: with assignments on, the users are
// what the run writes: a refused read fails the run, as before.
func TestRunUsersRefusedWithAssignments(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	e := setup(t, baseHR, cfg)
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: usersPath, Status: 403, Times: 10})
	res, err := e.runner(cfg).RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
	if err == nil || res.Run.Outcome != store.OutcomeFailed || !strings.Contains(res.Run.Error, "403") {
		t.Fatalf("outcome %s error %v, want failed on the 403", res.Run.Outcome, err)
	}
}
