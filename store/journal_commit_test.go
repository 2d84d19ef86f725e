package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// TestJournalLazyCommitStaysInItsTransaction: the journal writes that may
// commit lazily (intended, done) turn synchronous_commit off for their own
// transaction only. Left off on a pooled connection, it would make the
// writes that must be durable (sent, the registry) lazy too.
func TestJournalLazyCommitStaysInItsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// synchronous_commit on for every connection, whatever the server's
	// default (the throwaway test cluster's is off).
	url := pgtest.DB(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s := open(t, url+sep+"synchronous_commit=on", store.Options{})
	run, err := s.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	check := func(after string) {
		t.Helper()
		got, err := s.SynchronousCommits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range got {
			if v != "on" {
				t.Errorf("synchronous_commit %v on the pool's connections after %s", got, after)
				break
			}
		}
	}
	ids, err := s.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create", SkillName: "A"}, {Action: "create", SkillName: "B"}})
	if err != nil {
		t.Fatal(err)
	}
	check("journaling intended operations")
	for _, state := range []store.OpState{store.OpSent, store.OpDone} {
		if err := s.JournalSet(ctx, []store.OpUpdate{{ID: ids[0], State: state}, {ID: ids[1], State: state}}); err != nil {
			t.Fatal(err)
		}
		check("moving operations to " + string(state))
	}
	_, ops, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].State != store.OpDone || ops[1].State != store.OpDone || ops[0].Seq != 1 || ops[1].Seq != 2 {
		t.Errorf("journal %+v", ops)
	}
}
