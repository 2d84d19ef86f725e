package sync

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestRunLeavesALostCreateSentWhileTheListLags (the chaos soak's seed 673):
// a run dies after LivePerson applied its create batch, so the journal rows
// stay sent; HR drops the teams; the next run's skill list lags behind the
// create. That run must not settle the creates as "not made" (the skills
// would be nobody's for good): the rows stay sent, and the run after it,
// whose list shows the skills, takes them over and starts their delete
// grace. The journal keeps the revision each create was sent under.
func TestRunLeavesALostCreateSentWhileTheListLags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig())
	dying := &dyingStore{Store: e.store}
	var sentUnder string
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			sentUnder = e.skills.sentRev(n)
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
	if n := len(e.sim.Skills(false)); n != 2 {
		t.Fatalf("%d skills after the death, want 2", n)
	}
	// What the next run does first, under the lock.
	if _, err := e.store.MarkInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	unconfirmed, err := e.store.UnconfirmedCreates(ctx)
	if err != nil || len(unconfirmed) != 2 {
		t.Fatalf("unconfirmed creates %+v, %v", unconfirmed, err)
	}
	for _, op := range unconfirmed {
		if op.State != store.OpSent || op.Revision == "" || op.Revision != sentUnder {
			t.Errorf("journal row %+v: want sent under revision %q", op, sentUnder)
		}
	}

	// HR drops both teams (its people move to two new ones); the next run's skill list lags one change
	// (the create) behind.
	e.writeHR(hrCSV("1,p1@example.com,P1,Team 0008,Agent,active,", "2,p2@example.com,P2,Team 0009,Agent,active,"))
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsPath, Lag: 1})
	r := e.runner(e.cfg)
	res := e.run(r, store.ModeApply)
	var got []string
	for _, u := range res.Plan.Unconfirmed {
		got = append(got, u.Skill+" "+u.Resolution)
	}
	if want := []string{"Team 0000 unseen", "Team 0001 unseen"}; !slices.Equal(got, want) {
		t.Errorf("lagging run resolutions %q, want %q", got, want)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 2 {
		t.Errorf("the lagging run settled %d creates: %+v", 2-len(unconfirmed), unconfirmed)
	}

	// The list caught up: taken over, and pending deletion.
	res = e.run(r, store.ModeApply)
	got = nil
	for _, u := range res.Plan.Unconfirmed {
		got = append(got, u.Skill+" "+u.Resolution)
	}
	if want := []string{"Team 0000 taken_over", "Team 0001 taken_over"}; !slices.Equal(got, want) {
		t.Errorf("next run resolutions %q, want %q", got, want)
	}
	if owned := e.ownedNames(); !slices.Contains(owned, "Team 0000") || !slices.Contains(owned, "Team 0001") {
		t.Errorf("registry %q: the killed run's skills are not ours", owned)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 0 {
		t.Errorf("still unconfirmed: %+v", unconfirmed)
	}
	if n := len(e.sim.Skills(false)); n != 4 {
		t.Errorf("%d live skills, want 4 (no duplicate)", n)
	}
}

// TestPlanSettlesAbsentOnlyFromALaterList: an unanswered create with no
// skill under its name is settled as not made only when the list was read
// at a revision later than the one the create was sent under; a create
// journaled without a revision (before the journal kept one), or revisions
// that are not numbers, settle as before.
func TestPlanSettlesAbsentOnlyFromALaterList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sent, list string
		want       string
	}{
		{"10", "10", ResolutionUnseen},
		{"10", "9", ResolutionUnseen},
		{"10", "11", ResolutionAbsent},
		{"10", "", ResolutionAbsent},
		{"", "5", ResolutionAbsent},
		{"abc", "5", ResolutionAbsent},
		{"10", "xyz", ResolutionAbsent},
	} {
		in := PlanInput{Policy: PolicySync, DeleteAfterRuns: 1, RunID: 3, Revision: c.list,
			Unconfirmed: []store.Operation{{ID: 7, RunID: 2, Action: "create", SkillName: "Billing", State: store.OpSent,
				RuleID: "dept", RuleKey: "dept\x00Billing", Revision: c.sent}}}
		p := BuildPlan(in)
		if len(p.Unconfirmed) != 1 || p.Unconfirmed[0].Resolution != c.want {
			t.Errorf("sent under %q, list at %q: %+v, want %s", c.sent, c.list, p.Unconfirmed, c.want)
		}
	}
	if !revisionAfter("100000000000", "99999999999") || revisionAfter(strconv.Itoa(5), "5") {
		t.Error("revisionAfter compares as numbers")
	}
}

// TestRunResendKeepsTheLaterRevision: a batch refused after LivePerson
// applied its first item is re-read and its missing item sent again,
// under the re-read's revision; that create's connection drops, so its
// row stays sent. The row keeps the later revision: a list read between
// the two sends could not show what the resend made.
func TestRunResendKeepsTheLaterRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig())
	var first string
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 1 {
			first = e.skills.sentRev(n)
		}
	}
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, PartialApply: 1, Status: 400})
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Drop: true})
	res := e.run(e.runner(e.cfg), store.ModeApply)
	if res.Run.Counts.Failed != 1 || e.sim.Count("POST", skillsPath) != 2 {
		t.Fatalf("outcome %s counts %+v, %d creates sent", res.Run.Outcome, res.Run.Counts, e.sim.Count("POST", skillsPath))
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		t.Fatalf("revision %q: %v", first, err)
	}
	unconfirmed, err := e.store.UnconfirmedCreates(ctx)
	if err != nil || len(unconfirmed) != 1 {
		t.Fatalf("unconfirmed creates %+v, %v", unconfirmed, err)
	}
	if op := unconfirmed[0]; op.SkillName != "Team 0001" || op.Revision != strconv.FormatInt(n+1, 10) {
		t.Errorf("row %+v: want Team 0001 sent again under revision %d (first sent under %s)", op, n+1, first)
	}
}
