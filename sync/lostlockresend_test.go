package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestRunLostLockWhileResendingRefusedCreates: LivePerson refuses a create
// batch (a 4xx for a batch of several: its first items may have been
// made), the re-read does not show them (a list can lag behind a create),
// and the missing ones are sent again one by one; the run lock's session
// ends before the first resend leaves. Nothing more is sent, and every row
// stays sent for the lock's next holder to settle from the journal: the
// refused batch may have made any of them, and a row marked failed would
// leave such a skill someone else's for good (as resendMissing keeps them
// when the run is interrupted).
func TestRunLostLockWhileResendingRefusedCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig())
	e.sim.InjectFault(lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Status: 400})
	var postsAt int
	e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
		if n == 2 { // the first resend, after the refused batch and the re-read
			terminateRunLock(t, e)
			postsAt = e.sim.Count("POST", skillsPath)
		}
	}
	res, err := e.runner(e.cfg).RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if postsAt == 0 {
		t.Fatal("no create was sent again: the refused batch did not lead to a resend")
	}
	if n := e.sim.Count("POST", skillsPath); n != postsAt {
		t.Errorf("%d POST requests after the run lock was lost, want none", n-postsAt)
	}
	if res.Run.Outcome != store.OutcomeInterrupted || !strings.Contains(res.Run.Error, "lost the run lock") {
		t.Errorf("run %s (%s); want interrupted, lost the run lock", res.Run.Outcome, res.Run.Error)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 2 {
		t.Errorf("unconfirmed creates %+v: want both rows left sent for the lock's next holder", unconfirmed)
	}
}
