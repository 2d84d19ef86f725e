package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestRunLostLockBeforeSettlingItsCreates: LivePerson makes a create batch
// but answers without the skills' ids (the chaos soak's seed 443 on an
// earlier main), and the run lock's session ends before the run has
// re-read the account to find them. Another replica may hold the lock and
// take the skills over from the journal by now: the run registers nothing
// and marks nothing done, its rows stay sent for the lock's holder, and
// the run ends interrupted.
func TestRunLostLockBeforeSettlingItsCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(2), teamConfig(), withSim(func(o *lpsim.Options) { o.CreateResponse = lpsim.CreateResponseEmpty }))
	e.skills.afterCreate = func(n int) {
		if n == 1 {
			terminateRunLock(t, e)
		}
	}
	res, err := e.runner(e.cfg).RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Outcome != store.OutcomeInterrupted || !strings.Contains(res.Run.Error, "lost the run lock") {
		t.Errorf("run %s (%s); want interrupted, lost the run lock", res.Run.Outcome, res.Run.Error)
	}
	if owned := e.ownedNames(); len(owned) != 0 {
		t.Errorf("registry %q written after the lock was lost", owned)
	}
	if unconfirmed, _ := e.store.UnconfirmedCreates(ctx); len(unconfirmed) != 2 {
		t.Errorf("unconfirmed creates %+v: want both rows left sent for the lock's next holder", unconfirmed)
	}
}
