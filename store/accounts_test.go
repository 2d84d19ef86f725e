package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// legacyFill is state as the release before accounts wrote it (schema
// 00001-00007, no account anywhere): a dry run and two apply runs with
// their journals, a registry with a released skill and written states, the
// snapshots of the runs and a pending delete.
const legacyFill = `
INSERT INTO runs (trigger, mode, outcome, finished_at, creates, plan) OVERRIDING SYSTEM VALUE
	VALUES ('schedule', 'apply', 'applied', now(), 2, '{"format_version": 1}');
INSERT INTO runs (trigger, mode, outcome, finished_at, creates) OVERRIDING SYSTEM VALUE
	VALUES ('manual', 'plan', 'planned', now(), 1);
INSERT INTO runs (trigger, mode, outcome, finished_at, error)
	VALUES ('schedule', 'apply', 'interrupted', now(), 'the process running it stopped');
INSERT INTO run_operations (run_id, seq, action, skill_name, skill_id, state, rule_id, rule_key)
	VALUES (1, 1, 'create', 'Sales', 11, 'done', 'dept', 'dept|Sales'),
	       (1, 2, 'create', 'Support', 12, 'done', 'dept', 'dept|Support'),
	       (3, 1, 'create', 'Billing', NULL, 'sent', 'dept', 'dept|Billing');
UPDATE runs SET last_seq = 2 WHERE id = 1;
UPDATE runs SET last_seq = 1 WHERE id = 3;
INSERT INTO owned_skills (skill_id, name, rule_id, rule_key, created_by_run, written_state)
	VALUES (11, 'Sales', 'dept', 'dept|Sales', 1, '{"name": "Sales"}'),
	       (12, 'Support', 'dept', 'dept|Support', 1, NULL);
INSERT INTO owned_skills (skill_id, name, released_at) VALUES (13, 'Old', now());
INSERT INTO source_snapshots (run_id, records, active, accepted) VALUES (1, 100, 90, true), (2, 100, 80, true);
UPDATE runs SET snapshot_id = 1 WHERE id = 1;
INSERT INTO pending_deletes (skill_id, skill_name, first_missing_run, consecutive_missing_runs)
	VALUES (12, 'Support', 3, 1);
`

// TestUpgradeKeepsLegacyState: a database filled by the schema before
// accounts (migrated to 00007) and migrated up keeps every run, journal
// row, owned skill, written state, snapshot and pending delete; they
// belong to no account until ClaimLegacyState gives them to one, and then
// to that account alone.
func TestUpgradeKeepsLegacyState(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyDB(t)
	pgtest.MigrateTo(t, url, 7, 0)
	ctx := t.Context()
	if _, err := connect(t, url).Exec(ctx, legacyFill); err != nil {
		t.Fatal(err)
	}
	root, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.Close)
	if err := root.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := root.OwnedSkills(ctx); !errors.Is(err, store.ErrNoAccount) {
		t.Errorf("OwnedSkills with no account = %v, want ErrNoAccount", err)
	}
	want := store.LegacyState{Runs: 3, OwnedSkills: 3, Snapshots: 2, PendingDeletes: 1}
	if got, err := root.LegacyState(ctx); err != nil || got != want {
		t.Fatalf("LegacyState = %+v, %v; want %+v", got, err, want)
	}
	emea := root.Account("111")
	if owned, err := emea.OwnedSkills(ctx); err != nil || len(owned) != 0 {
		t.Errorf("before the claim the account owns %+v, %v; want nothing", owned, err)
	}

	if moved, err := root.ClaimLegacyState(ctx, "111"); err != nil || moved != want {
		t.Fatalf("ClaimLegacyState = %+v, %v; want %+v", moved, err, want)
	}
	if got, err := root.LegacyState(ctx); err != nil || !got.Empty() {
		t.Errorf("LegacyState after the claim = %+v, %v; want empty", got, err)
	}
	if moved, err := root.ClaimLegacyState(ctx, "222"); err != nil || !moved.Empty() {
		t.Errorf("a second claim = %+v, %v; want nothing moved", moved, err)
	}

	runs, err := emea.ListRuns(ctx, 0)
	if err != nil || len(runs) != 3 || runs[0].Outcome != store.OutcomeInterrupted || runs[1].Outcome != store.OutcomePlanned {
		t.Errorf("runs = %+v, %v", runs, err)
	}
	run, ops, err := emea.GetRun(ctx, 1)
	if err != nil || run.Counts.Create != 2 || string(run.Plan) != `{"format_version": 1}` || len(ops) != 2 || ops[1].SkillName != "Support" {
		t.Errorf("run 1 = %+v, %+v, %v", run, ops, err)
	}
	if last, err := emea.LastSuccess(ctx); err != nil || last == nil || last.ID != 1 {
		t.Errorf("LastSuccess = %+v, %v; want run 1", last, err)
	}
	owned, err := emea.OwnedSkills(ctx)
	if err != nil || len(owned) != 2 || owned[0].RuleKey != "dept|Sales" || owned[1].SkillID != 12 || *owned[0].CreatedByRun != 1 {
		t.Errorf("owned = %+v, %v", owned, err)
	}
	if states, err := emea.SkillStates(ctx); err != nil || len(states) != 1 || string(states[11]["name"]) != `"Sales"` {
		t.Errorf("written states = %s, %v", fmtStates(states), err)
	}
	// Only apply runs' snapshots are the baseline: run 2 is a dry run.
	if snap, err := emea.LastAcceptedSnapshot(ctx); err != nil || snap == nil || snap.RunID != 1 || snap.Active != 90 {
		t.Errorf("baseline = %+v, %v; want run 1's", snap, err)
	}
	if pending, err := emea.PendingDeletes(ctx); err != nil || len(pending) != 1 || pending[0].SkillID != 12 || pending[0].FirstMissingRun != 3 {
		t.Errorf("pending = %+v, %v", pending, err)
	}
	if unconfirmed, err := emea.UnconfirmedCreates(ctx); err != nil || len(unconfirmed) != 1 || unconfirmed[0].SkillName != "Billing" {
		t.Errorf("unconfirmed creates = %+v, %v", unconfirmed, err)
	}
	// The journal goes on where it stopped.
	if ids, err := emea.JournalAdd(ctx, 1, []store.Operation{{Action: "update", SkillName: "Sales"}}); err != nil || len(ids) != 1 {
		t.Errorf("JournalAdd to an upgraded run = %v, %v", ids, err)
	}
	if _, ops, _ := emea.GetRun(ctx, 1); len(ops) != 3 || ops[2].Seq != 3 {
		t.Errorf("journal after JournalAdd = %+v", ops)
	}

	other := root.Account("222")
	if owned, err := other.OwnedSkills(ctx); err != nil || len(owned) != 0 {
		t.Errorf("another account owns %+v, %v", owned, err)
	}
	if runs, err := other.ListRuns(ctx, 0); err != nil || len(runs) != 0 {
		t.Errorf("another account's runs = %+v, %v", runs, err)
	}
}

// TestClaimRefusesCollision: legacy state is not merged into an account
// that already owns one of its skills; nothing moves.
func TestClaimRefusesCollision(t *testing.T) {
	t.Parallel()
	st, url := setup(t)
	ctx := t.Context()
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 11, Name: "Sales"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, url).Exec(ctx, `INSERT INTO owned_skills (account_id, skill_id, name) VALUES ('', 11, 'Sales')`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimLegacyState(ctx, testAccount); err == nil {
		t.Fatal("claim over an owned skill succeeded")
	} else if want := "migrate --legacy-account"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if l, err := st.LegacyState(ctx); err != nil || l.OwnedSkills != 1 {
		t.Errorf("after the refused claim: %+v, %v", l, err)
	}
}

// TestAccountsApart: two accounts on one database, with the same skill ids
// and rule keys (LivePerson numbers skills per account), never see or
// change each other's state, and have locks of their own.
func TestAccountsApart(t *testing.T) {
	t.Parallel()
	a, url := setup(t)
	b := a.Account("2000")
	ctx := t.Context()

	// The same state in both, under the same ids and keys.
	runs := map[*store.Store]store.Run{}
	opIDs := map[*store.Store]int64{}
	for _, st := range []*store.Store{a, b} {
		run, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
		if err != nil {
			t.Fatal(err)
		}
		runs[st] = run
		ids, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create", SkillName: "Sales " + st.AccountID(), RuleID: "dept", RuleKey: "dept|Sales"}})
		if err != nil {
			t.Fatal(err)
		}
		opIDs[st] = ids[0]
		if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
			{SkillID: 1, Name: "Sales " + st.AccountID(), RuleID: "dept", RuleKey: "dept|Sales", CreatedByRun: &run.ID},
			{SkillID: 2, Name: "Gone"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetSkillStates(ctx, map[int64]store.SkillState{1: {"name": json.RawMessage(`"Sales ` + st.AccountID() + `"`)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordSnapshot(ctx, store.Snapshot{RunID: run.ID, Records: 10, Active: 10, Accepted: true}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPendingDeletes(ctx, []store.PendingDelete{{SkillID: 2, SkillName: "Gone", FirstMissingRun: run.ID, ConsecutiveMissingRuns: 1}}); err != nil {
			t.Fatal(err)
		}
	}

	// Each account's writes and reads reach its own rows only.
	if _, _, err := b.GetRun(ctx, runs[a].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b reads a's run: %v", err)
	}
	if _, err := b.JournalAdd(ctx, runs[a].ID, []store.Operation{{Action: "update"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b journals into a's run: %v", err)
	}
	if err := b.JournalSet(ctx, []store.OpUpdate{{ID: opIDs[a], State: store.OpDone}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b settles a's operation: %v", err)
	}
	if err := b.FinishRun(ctx, store.Run{ID: runs[a].ID, Outcome: store.OutcomeFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b finishes a's run: %v", err)
	}
	if n, err := b.MarkInterrupted(ctx); err != nil || n != 1 {
		t.Errorf("b marks %d runs interrupted (%v), want its own one", n, err)
	}
	if last, err := a.LastRun(ctx); err != nil || last.Outcome != store.OutcomeRunning {
		t.Errorf("a's run after b's MarkInterrupted: %+v, %v", last, err)
	}
	if _, err := b.ReleaseSkill(ctx, "Sales 2000"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteOwnedSkills(ctx, []int64{2}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPendingDeletes(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReleaseSkill(ctx, "Sales 1000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b releases a's skill: %v", err)
	}

	owned, err := a.OwnedSkills(ctx)
	if err != nil || len(owned) != 2 || owned[1].Name != "Sales 1000" {
		t.Errorf("a owns %+v, %v", owned, err)
	}
	if states, err := a.SkillStates(ctx); err != nil || string(states[1]["name"]) != `"Sales 1000"` {
		t.Errorf("a's written state = %s, %v", fmtStates(states), err)
	}
	if pending, err := a.PendingDeletes(ctx); err != nil || len(pending) != 1 {
		t.Errorf("a's pending deletes = %+v, %v", pending, err)
	}
	if owned, err := b.OwnedSkills(ctx); err != nil || len(owned) != 0 {
		t.Errorf("b owns %+v, %v", owned, err)
	}
	if unconfirmed, err := a.UnconfirmedCreates(ctx); err != nil || len(unconfirmed) != 0 {
		t.Errorf("a's unconfirmed creates (its run is running) = %+v, %v", unconfirmed, err)
	}
	if unconfirmed, err := b.UnconfirmedCreates(ctx); err != nil || len(unconfirmed) != 1 || unconfirmed[0].SkillName != "Sales 2000" {
		t.Errorf("b's unconfirmed creates = %+v, %v", unconfirmed, err)
	}
	// A third account with a snapshot-less history has no baseline.
	if snap, err := a.Account("3000").LastAcceptedSnapshot(ctx); err != nil || snap != nil {
		t.Errorf("baseline of an account without runs = %+v, %v", snap, err)
	}

	// Locks: one per account; the same account from another process waits.
	la, err := a.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = la.Release(ctx) }()
	lb, err := b.AcquireRunLock(ctx)
	if err != nil {
		t.Fatalf("b's lock while a runs: %v", err)
	}
	defer func() { _ = lb.Release(ctx) }()
	if _, err := open(t, url, store.Options{}).AcquireRunLock(ctx); !errors.Is(err, store.ErrRunInProgress) {
		t.Errorf("a's lock from another process = %v, want ErrRunInProgress", err)
	}
	if _, err := b.ReleaseSkill(ctx, "Gone"); !errors.Is(err, store.ErrRunInProgress) {
		t.Errorf("release during b's run: %v, want ErrRunInProgress", err)
	}
	if _, err := a.Account("3000").ReleaseSkill(ctx, "Gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release in an account without a run: %v, want ErrNotFound (not held off by others' runs)", err)
	}
}

// TestAccountLockKey: keys differ per account and per base, and none is
// the migration lock's.
func TestAccountLockKey(t *testing.T) {
	t.Parallel()
	seen := map[int64]string{}
	for _, base := range []int64{store.DefaultRunLockKey, 42} {
		for _, acct := range []string{"1", "2", "12345678", "87654321"} {
			k := store.AccountLockKey(base, acct)
			if prev, ok := seen[k]; ok {
				t.Errorf("key %#x for %d/%s and %s", k, base, acct, prev)
			}
			seen[k] = acct
			if k == 0x5ea1_0001 || k != store.AccountLockKey(base, acct) {
				t.Errorf("key %#x for %d/%s", k, base, acct)
			}
		}
	}
}
