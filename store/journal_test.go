package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/store"
)

func ptr[T any](v T) *T { return &v }

func TestJournal(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}

	ids, err := st.JournalAdd(ctx, run.ID, []store.Operation{
		{Action: "create", SkillName: "Sales", Request: "POST skills [Sales]",
			Sent: store.SkillState{"name": []byte(`"Sales"`), "description": []byte(`"Sales staff"`), "lob_ids": []byte(`[3, 1]`)}},
		{Action: "update", SkillName: "Support", SkillID: ptr[int64](42), Request: "PUT skills/42"},
		{Action: "delete", SkillName: "Old", SkillID: ptr[int64](7), State: store.OpSent},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Fatalf("JournalAdd returned %d ids, want 3", len(ids))
	}
	more, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Action: "assign", SkillName: "Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, more...)

	err = st.JournalSet(ctx, []store.OpUpdate{
		{ID: ids[0], State: store.OpSent},
		{ID: ids[1], State: store.OpFailed, HTTPStatus: ptr(400), Error: "bad skill"},
		{ID: ids[0], State: store.OpDone, HTTPStatus: ptr(201), SkillID: ptr[int64](99)}, // last wins
		{ID: ids[2], State: store.OpDone, HTTPStatus: ptr(200)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A nil status or skill id keeps the stored one.
	if err := st.JournalSet(ctx, []store.OpUpdate{{ID: ids[2], State: store.OpDone}}); err != nil {
		t.Fatal(err)
	}

	_, ops, err := st.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      int64
		seq     int
		action  string
		state   store.OpState
		status  int // 0: none
		skillID int64
		errText string
	}{
		{ids[0], 1, "create", store.OpDone, 201, 99, ""},
		{ids[1], 2, "update", store.OpFailed, 400, 42, "bad skill"},
		{ids[2], 3, "delete", store.OpDone, 200, 7, ""},
		{ids[3], 4, "assign", store.OpIntended, 0, 0, ""},
	}
	if len(ops) != len(want) {
		t.Fatalf("GetRun returned %d operations, want %d", len(ops), len(want))
	}
	for i, w := range want {
		op := ops[i]
		status, skillID := 0, int64(0)
		if op.HTTPStatus != nil {
			status = *op.HTTPStatus
		}
		if op.SkillID != nil {
			skillID = *op.SkillID
		}
		if op.ID != w.id || op.RunID != run.ID || op.Seq != w.seq || op.Action != w.action ||
			op.State != w.state || status != w.status || skillID != w.skillID || op.Error != w.errText {
			t.Errorf("operation %d = %+v (status %d, skill %d), want %+v", i, op, status, skillID, w)
		}
		if op.CreatedAt.IsZero() || op.UpdatedAt.Before(op.CreatedAt) {
			t.Errorf("operation %d timestamps: created %v updated %v", i, op.CreatedAt, op.UpdatedAt)
		}
	}
	if ops[0].Request != "POST skills [Sales]" {
		t.Errorf("request = %q", ops[0].Request)
	}
	// The fields a create sent come back as sent (compacted JSON); other
	// operations have none.
	if got := ops[0].Sent; len(got) != 3 || string(got["name"]) != `"Sales"` || string(got["description"]) != `"Sales staff"` ||
		string(got["lob_ids"]) != `[3,1]` {
		t.Errorf("sent fields of the create = %q", got)
	}
	if ops[1].Sent != nil {
		t.Errorf("sent fields of the update = %q, want none", ops[1].Sent)
	}
}

// TestUnconfirmedCreates: creates left intended or sent by runs that
// finished without their answer come back with the rule and key that
// produced them, until a later run settles them; creates of a run still
// running, answered creates and other actions do not.
func TestUnconfirmedCreates(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	begin := func() store.Run {
		t.Helper()
		run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	add := func(run store.Run, ops ...store.Operation) []int64 {
		t.Helper()
		ids, err := st.JournalAdd(ctx, run.ID, ops)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	got := func() []string {
		t.Helper()
		ops, err := st.UnconfirmedCreates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, op := range ops {
			out = append(out, fmt.Sprintf("%d %s %s %s %s", op.RunID, op.SkillName, op.RuleID, op.RuleKey, op.State))
		}
		return out
	}

	// A run whose process died in a create batch: still running until
	// someone holding the lock marks it interrupted.
	dead := begin()
	ids := add(dead,
		store.Operation{Action: "create", SkillName: "Sales", RuleID: "dept", RuleKey: "dept|Sales", State: store.OpSent},
		store.Operation{Action: "create", SkillName: "Support", RuleID: "dept", RuleKey: "dept|Support"},
		store.Operation{Action: "create", SkillName: "Billing", RuleID: "dept", RuleKey: "dept|Billing", State: store.OpDone},
		store.Operation{Action: "update", SkillName: "Escalations", SkillID: ptr[int64](3), State: store.OpSent},
		store.Operation{Action: "create", SkillName: "Refused", RuleID: "dept", RuleKey: "dept|Refused", State: store.OpFailed},
	)
	if g := got(); len(g) != 0 {
		t.Errorf("creates of a run still running = %q, want none (its process may be alive)", g)
	}
	if _, err := st.MarkInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d Sales dept dept|Sales sent", dead.ID),
		fmt.Sprintf("%d Support dept dept|Support intended", dead.ID),
	}
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("after the dead run was marked interrupted = %q, want %q", g, want)
	}

	// The next run (running) has an unanswered create of its own: not
	// someone else's leftover.
	next := begin()
	add(next, store.Operation{Action: "create", SkillName: "Sales", RuleID: "dept", RuleKey: "dept|Sales", State: store.OpSent})
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("with a running run = %q, want %q", g, want)
	}
	// It takes Sales over (the skill exists) and settles both rows, all
	// or nothing: with a row that does not exist, nothing is registered.
	note := fmt.Sprintf("outcome unknown; resolved by run %d: skill 41 exists: taken over", next.ID)
	sales := store.OwnedSkill{SkillID: 41, Name: "Sales", RuleID: "dept", RuleKey: "dept|Sales", CreatedByRun: &dead.ID}
	settle := []store.OpUpdate{
		{ID: ids[0], State: store.OpResolved, Error: note, SkillID: ptr[int64](41)},
		{ID: ids[1], State: store.OpResolved, Error: "never sent"},
	}
	err := st.TakeOverSkills(ctx, []store.OwnedSkill{sales}, append(slices.Clone(settle), store.OpUpdate{ID: ids[4] + 100, State: store.OpResolved}))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakeOverSkills with an unknown row = %v, want ErrNotFound", err)
	}
	if owned, err := st.OwnedSkills(ctx); err != nil || len(owned) != 0 {
		t.Errorf("a failed takeover registered %+v, %v", owned, err)
	}
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("after a failed takeover = %q, want %q", g, want)
	}
	if err := st.TakeOverSkills(ctx, []store.OwnedSkill{sales}, settle); err != nil {
		t.Fatal(err)
	}
	if g := got(); len(g) != 0 {
		t.Errorf("after resolving = %q, want none", g)
	}
	if owned, err := st.OwnedSkills(ctx); err != nil || len(owned) != 1 || owned[0].RuleKey != "dept|Sales" || *owned[0].CreatedByRun != dead.ID {
		t.Errorf("registry after the takeover %+v, %v", owned, err)
	}
	// A release sticks: nothing is left to take it over again.
	if _, err := st.ReleaseSkill(ctx, "Sales"); err != nil {
		t.Fatal(err)
	}
	if g := got(); len(g) != 0 {
		t.Errorf("after a release = %q, want none", g)
	}
	_, ops, err := st.GetRun(ctx, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if op := ops[0]; op.State != store.OpResolved || op.Error != note || op.SkillID == nil || *op.SkillID != 41 ||
		op.RuleID != "dept" || op.RuleKey != "dept|Sales" {
		t.Errorf("resolved operation = %+v", op)
	}
	if op := ops[3]; op.RuleID != "" || op.RuleKey != "" {
		t.Errorf("an update carries rule %q key %q, want none", op.RuleID, op.RuleKey)
	}
}

func TestJournalErrors(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create"}})
	if err != nil {
		t.Fatal(err)
	}

	if ids, err := st.JournalAdd(ctx, run.ID, nil); err != nil || ids != nil {
		t.Errorf("JournalAdd(nil) = %v, %v; want nothing", ids, err)
	}
	if err := st.JournalSet(ctx, nil); err != nil {
		t.Errorf("JournalSet(nil) = %v", err)
	}
	if _, err := st.JournalAdd(ctx, run.ID+100, []store.Operation{{Action: "create"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("JournalAdd to an unknown run = %v, want ErrNotFound", err)
	}
	if _, err := st.JournalAdd(ctx, run.ID, []store.Operation{{SkillName: "no action"}}); err == nil {
		t.Error("JournalAdd without an action succeeded")
	}
	if _, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create", State: "exploded"}}); err == nil {
		t.Error("JournalAdd with an unknown state succeeded")
	}
	err = st.JournalSet(ctx, []store.OpUpdate{{ID: ids[0], State: store.OpSent}, {ID: ids[0] + 100, State: store.OpSent}})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("JournalSet of an unknown operation = %v, want ErrNotFound", err)
	}
	if err := st.JournalSet(ctx, []store.OpUpdate{{ID: ids[0]}}); err == nil {
		t.Error("JournalSet without a state succeeded")
	}
}

// TestJournalConcurrentAdds: writers adding to one run at once get distinct,
// gap-free sequence numbers.
func TestJournalConcurrentAdds(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	const writers, batches, size = 4, 5, 10
	var wg gosync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				ops := make([]store.Operation, size)
				for i := range ops {
					ops[i] = store.Operation{Action: "create", SkillName: fmt.Sprintf("w%d-b%d-%d", w, b, i)}
				}
				if _, err := st.JournalAdd(ctx, run.ID, ops); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, ops, err := st.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != writers*batches*size {
		t.Fatalf("%d operations, want %d", len(ops), writers*batches*size)
	}
	for i, op := range ops {
		if op.Seq != i+1 {
			t.Fatalf("operation %d has seq %d, want %d", i, op.Seq, i+1)
		}
	}
	// Each batch kept its order and stayed contiguous.
	for i := 0; i < len(ops); i += size {
		var w, b, n int
		if _, err := fmt.Sscanf(ops[i].SkillName, "w%d-b%d-%d", &w, &b, &n); err != nil || n != 0 {
			t.Fatalf("batch at seq %d starts with %q", i+1, ops[i].SkillName)
		}
		for j := range size {
			if want := fmt.Sprintf("w%d-b%d-%d", w, b, j); ops[i+j].SkillName != want {
				t.Fatalf("seq %d is %q, want %q", i+j+1, ops[i+j].SkillName, want)
			}
		}
	}
}

// BenchmarkJournal journals 10,000 operations for one run the way the
// applier does: batches of 50, each journaled sent (durably, before the
// call to LivePerson), then moved to done (lazily) with the created
// skill's id and the answer's status.
func BenchmarkJournal(b *testing.B) {
	st, _ := setup(b)
	ctx := b.Context()
	const total, batch = 10_000, 50
	ops := make([]store.Operation, batch)
	for i := range ops {
		ops[i] = store.Operation{Action: "create", SkillName: fmt.Sprintf("Skill %d", i), Request: "POST skills", State: store.OpSent}
	}
	done := make([]store.OpUpdate, batch)
	b.ResetTimer()
	for b.Loop() {
		run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
		if err != nil {
			b.Fatal(err)
		}
		for range total / batch {
			ids, err := st.JournalAdd(ctx, run.ID, ops)
			if err != nil {
				b.Fatal(err)
			}
			for i, id := range ids {
				done[i] = store.OpUpdate{ID: id, State: store.OpDone, HTTPStatus: ptr(201), SkillID: ptr(id)}
			}
			if err := st.JournalSet(ctx, done); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "ops/s")
}

// TestJournalSetUnordered: each operation takes its own update's values
// whatever the order of the updates, in one statement or in several
// (past journalSetChunk, 500).
func TestJournalSetUnordered(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	const n = 1_300
	run, ids := sentCreates(t, st, n)
	var ups []store.OpUpdate
	for _, i := range []int{17, 3, 1039, 0, 625, 8, 1231, 12, 38, 1, 499, 500, 501} {
		ups = append(ups, store.OpUpdate{ID: ids[i], State: store.OpDone, HTTPStatus: ptr(200 + i), SkillID: ptr(int64(1000 + i)), Error: fmt.Sprint("e", i)})
	}
	for i := n - 1; i >= 0; i-- {
		if i%3 == 1 {
			ups = append(ups, store.OpUpdate{ID: ids[i], State: store.OpResolved, SkillID: ptr(int64(1000 + i)), Revision: fmt.Sprint(10 + i), Error: fmt.Sprint("r", i)})
		}
	}
	// An id that is not there is not found; the others are updated.
	err := st.JournalSet(ctx, append(slices.Clone(ups), store.OpUpdate{ID: ids[n-1] + 1_000_000, State: store.OpDone}))
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "1 of ") {
		t.Fatalf("JournalSet with an unknown id: %v, want 1 operation not found", err)
	}
	want := map[int64]store.OpUpdate{}
	for _, u := range ups {
		want[u.ID] = u // the last wins
	}
	_, got, err := st.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, op := range got {
		u, ok := want[op.ID]
		if !ok {
			if op.State != store.OpSent || op.SkillID != nil || op.Revision != "5" {
				t.Errorf("operation %d, not updated: %s, skill %v, revision %q", i, op.State, op.SkillID, op.Revision)
			}
			continue
		}
		rev := "5"
		if u.Revision != "" {
			rev = u.Revision
		}
		if op.State != u.State || op.Error != u.Error || op.SkillID == nil || *op.SkillID != *u.SkillID || op.Revision != rev {
			t.Errorf("operation %d: %s %q skill %v revision %q; want %s %q skill %d revision %q",
				i, op.State, op.Error, op.SkillID, op.Revision, u.State, u.Error, *u.SkillID, rev)
		}
	}
}

// BenchmarkJournalSetLarge settles n operations in one JournalSet, as a
// run taking over the creates earlier runs left unanswered does (every
// one in one statement): its cost must grow with n, not n².
func BenchmarkJournalSetLarge(b *testing.B) {
	st, _ := setup(b)
	ctx := b.Context()
	for _, n := range []int{1_000, 5_000, 20_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, ids := sentCreates(b, st, n)
			ups := make([]store.OpUpdate, n)
			for i, id := range ids {
				ups[i] = store.OpUpdate{ID: id, State: store.OpResolved, SkillID: ptr(id), Error: "outcome unknown; resolved"}
			}
			for b.Loop() {
				if err := st.JournalSet(ctx, ups); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sentCreates journals n creates sent under revision 5 in a new run.
func sentCreates(tb testing.TB, st *store.Store, n int) (store.Run, []int64) {
	tb.Helper()
	run, err := st.BeginRun(tb.Context(), store.TriggerManual, store.ModeApply)
	if err != nil {
		tb.Fatal(err)
	}
	ops := make([]store.Operation, n)
	for i := range ops {
		ops[i] = store.Operation{Action: "create", SkillName: fmt.Sprintf("Skill %d", i), State: store.OpSent, Revision: "5"}
	}
	ids, err := st.JournalAdd(tb.Context(), run.ID, ops)
	if err != nil {
		tb.Fatal(err)
	}
	return run, ids
}
