package sync

import (
	"context"
	"strconv"

	"github.com/skillsync/skillsync/store"
)

// Settling an unanswered create as not made.
//
// A create whose answer was lost is settled as not made ("absent") when
// a skill list read at a revision later than the one it was sent under
// does not show it. That revision is the If-Match the create was sent
// with, which is only the revision of the list its run planned from:
// LivePerson does not check If-Match on create, so when that list lagged
// behind the account the create was made at a later revision than the one
// journaled, and a list read between the two (lagging too) shows neither
// the create nor proof that it did not happen. Settled from it, the skill
// would be nobody's for good.
//
// So the plan's "absent" is provisional: its journal row is settled only
// once the run proves the list current, by a write LivePerson checks
// against If-Match (an update, a delete, a user update) succeeding at that
// list's revision. Until then the row stays sent and a later run looks
// again (and takes the skill over once a list shows it).

// numericRevision reports whether rev is a revision revisionAfter compares
// as a number.
func numericRevision(rev string) bool {
	_, err := strconv.ParseInt(rev, 10, 64)
	return rev != "" && err == nil
}

// deferAbsent keeps the settlement of an absent create until its list's
// revision is proven current (proven).
func (a *applier) deferAbsent(r CreateResolution, u store.OpUpdate) {
	a.absentRev = r.proof
	a.absent = append(a.absent, u)
}

// proven is told that a write checked against If-Match succeeded at
// revision sent: the account was at sent then, so a list read at sent
// showed every create made before this run, and the absent creates judged
// from it are settled.
func (a *applier) proven(ctx context.Context, sent string) error {
	if len(a.absent) == 0 || sent == "" || sent != a.absentRev {
		return nil
	}
	if err := a.store.JournalSet(ctx, a.absent); err != nil {
		return err
	}
	a.absent = nil
	return nil
}
