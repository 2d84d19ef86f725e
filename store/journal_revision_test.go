package store_test

import (
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestJournalRevision: a create keeps the revision it was sent under; an
// update replaces it only with a later one (a create sent again after a
// re-read), and an update without one keeps it.
func TestJournalRevision(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.JournalAdd(ctx, run.ID, []store.Operation{
		{Action: "create", SkillName: "Sales", Revision: "10"},
		{Action: "create", SkillName: "Billing"},
		{Action: "create", SkillName: "Legacy", Revision: "v7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	revisions := func() []string {
		t.Helper()
		_, ops, err := st.GetRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(ops))
		for i, op := range ops {
			out[i] = op.Revision
		}
		return out
	}
	check := func(want ...string) {
		t.Helper()
		if got := revisions(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("revisions %q, want %q", got, want)
		}
	}
	check("10", "", "v7")
	steps := []struct {
		sales, billing, legacy string
		want                   [3]string
	}{
		{"", "", "", [3]string{"10", "", "v7"}},    // none given: kept
		{"9", "4", "", [3]string{"10", "4", "v7"}}, // an older one does not replace
		{"12", "", "w1", [3]string{"12", "4", "w1"}},
	}
	for _, s := range steps {
		if err := st.JournalSet(ctx, []store.OpUpdate{
			{ID: ids[0], State: store.OpSent, Revision: s.sales},
			{ID: ids[1], State: store.OpSent, Revision: s.billing},
			{ID: ids[2], State: store.OpSent, Revision: s.legacy},
		}); err != nil {
			t.Fatal(err)
		}
		check(s.want[0], s.want[1], s.want[2])
	}
	// UnconfirmedCreates hands the revision on (the run is finished).
	run.Outcome = store.OutcomeInterrupted
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	ops, err := st.UnconfirmedCreates(ctx)
	if err != nil || len(ops) != 3 || ops[0].Revision != "12" {
		t.Errorf("unconfirmed creates %+v, %v", ops, err)
	}
}
