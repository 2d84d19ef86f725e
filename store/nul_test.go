package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
)

// TestNULIsStored: PostgreSQL's text refuses a NUL byte and jsonb the
// escape \u0000; a run error, a plan or a journal error quoting a server's
// binary answer is stored with U+FFFD instead of being refused (the run
// would stay unrecorded and be marked interrupted at the next start).
func TestNULIsStored(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	r, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.JournalAdd(ctx, r.ID, []store.Operation{{Action: "create", SkillName: "Sales", State: store.OpIntended, Error: "bad\x00answer"}})
	if err != nil {
		t.Fatalf("journal a NUL: %v", err)
	}
	if err := st.JournalSet(ctx, []store.OpUpdate{{ID: ids[0], State: store.OpFailed, Error: "500: \x00\x01"}}); err != nil {
		t.Fatalf("journal update with a NUL: %v", err)
	}
	now := time.Now()
	r.Outcome, r.FinishedAt = store.OutcomeFailed, &now
	r.Error = "LivePerson answered \x00garbage"
	r.Plan = []byte(`{"warnings":["a \u0000 in a warning"]}`)
	if err := st.FinishRun(ctx, r); err != nil {
		t.Fatalf("finish a run whose error and plan hold a NUL: %v", err)
	}
	got, ops, err := st.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Error != "LivePerson answered \uFFFDgarbage" || !strings.Contains(string(got.Plan), "\uFFFD") {
		t.Errorf("stored error %q, plan %s", got.Error, got.Plan)
	}
	if len(ops) != 1 || strings.Contains(ops[0].Error, "\x00") {
		t.Errorf("journal %+v", ops)
	}
}
