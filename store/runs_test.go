package store_test

import (
	"encoding/json"
	"errors"
	neturl "net/url"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()

	if run, err := st.LastRun(ctx); err != nil || run != nil {
		t.Fatalf("LastRun on an empty database = %v, %v; want nil, nil", run, err)
	}
	if run, err := st.LastSuccess(ctx); err != nil || run != nil {
		t.Fatalf("LastSuccess on an empty database = %v, %v; want nil, nil", run, err)
	}

	run, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == 0 || run.Outcome != store.OutcomeRunning || run.FinishedAt != nil ||
		run.Trigger != store.TriggerSchedule || run.Mode != store.ModeApply || run.StartedAt.IsZero() {
		t.Fatalf("BeginRun = %+v", run)
	}

	run.Outcome = store.OutcomeApplied
	run.Counts = store.Counts{Summary: store.Summary{Create: 1, Update: 2, Delete: 3, PendingDelete: 4, Unchanged: 5,
		UnmanagedConflict: 6, Assign: 7, Unassign: 8}, Failed: 9}
	run.Error = "two items failed"
	run.Plan = json.RawMessage(`{"format_version": 1, "changes": []}`)
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, ops, err := st.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 0 {
		t.Errorf("GetRun returned %d operations, want none", len(ops))
	}
	if got.Outcome != store.OutcomeApplied || got.Counts != run.Counts || got.Error != run.Error ||
		got.FinishedAt == nil || got.FinishedAt.Before(got.StartedAt) {
		t.Errorf("GetRun = %+v, want what FinishRun recorded: %+v", got, run)
	}
	var plan map[string]any
	if err := json.Unmarshal(got.Plan, &plan); err != nil || plan["format_version"] != 1.0 {
		t.Errorf("plan = %s (%v), want the JSON given to FinishRun", got.Plan, err)
	}

	// A dry run after it: the last run, but not the last success.
	dry, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	finished := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	dry.Outcome, dry.FinishedAt = store.OutcomeNoChanges, &finished
	if err := st.FinishRun(ctx, dry); err != nil {
		t.Fatal(err)
	}
	dry.Plan = json.RawMessage(`{"format_version": 1}`)
	if err := st.FinishRun(ctx, dry); err != nil {
		t.Fatal(err)
	}
	last, err := st.LastRun(ctx)
	if err != nil || last == nil || last.ID != dry.ID || last.Plan != nil || last.Outcome != store.OutcomeNoChanges {
		t.Fatalf("LastRun = %+v, %v; want run %d, finished, without its plan", last, err, dry.ID)
	}
	if !last.FinishedAt.Equal(finished) {
		t.Errorf("FinishedAt = %v, want the given %v", last.FinishedAt, finished)
	}
	success, err := st.LastSuccess(ctx)
	if err != nil || success == nil || success.ID != run.ID {
		t.Fatalf("LastSuccess = %+v, %v; want apply run %d", success, err, run.ID)
	}

	// A dry run that found changes ends planned: the last run, still not
	// a success.
	planned, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	planned.Outcome = store.OutcomePlanned
	if err := st.FinishRun(ctx, planned); err != nil {
		t.Fatal(err)
	}
	if last, err := st.LastRun(ctx); err != nil || last == nil || last.ID != planned.ID || last.Outcome != store.OutcomePlanned {
		t.Errorf("LastRun = %+v, %v; want the planned run %d", last, err, planned.ID)
	}
	if success, err := st.LastSuccess(ctx); err != nil || success == nil || success.ID != run.ID {
		t.Errorf("LastSuccess after a planned dry run = %+v, %v; want apply run %d", success, err, run.ID)
	}

	runs, err := st.ListRuns(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].ID != planned.ID || runs[1].ID != dry.ID || runs[2].ID != run.ID {
		t.Errorf("ListRuns = %+v, want runs %d, %d and %d, newest first", runs, planned.ID, dry.ID, run.ID)
	}
	for _, r := range runs {
		if r.Plan != nil || r.Counts != (store.Counts{}) && r.Counts != run.Counts {
			t.Errorf("ListRuns run %d = %+v, want its counts and no plan", r.ID, r)
		}
	}
	if runs, err := st.ListRuns(ctx, 1); err != nil || len(runs) != 1 {
		t.Errorf("ListRuns(1) = %d runs, %v", len(runs), err)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	run, err := st.BeginRun(ctx, store.TriggerAPI, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	dry, err := st.BeginRun(ctx, store.TriggerAPI, store.ModePlan)
	if err != nil {
		t.Fatal(err)
	}
	finishAs := func(r store.Run, o store.Outcome) func() error {
		return func() error {
			r.Outcome = o
			return st.FinishRun(ctx, r)
		}
	}

	tests := []struct {
		name    string
		call    func() error
		wantErr error // nil: any error
	}{
		{"finish without outcome", func() error { return st.FinishRun(ctx, run) }, nil},
		{"finish as running", func() error {
			r := run
			r.Outcome = store.OutcomeRunning
			return st.FinishRun(ctx, r)
		}, nil},
		{"finish unknown run", func() error {
			return st.FinishRun(ctx, store.Run{ID: run.ID + 100, Outcome: store.OutcomeFailed})
		}, store.ErrNotFound},
		{"finish with bad plan JSON", func() error {
			r := run
			r.Outcome, r.Plan = store.OutcomeFailed, json.RawMessage(`{`)
			return st.FinishRun(ctx, r)
		}, nil},
		{"finish an apply run as planned", finishAs(run, store.OutcomePlanned), nil},
		{"finish a dry run as applied", finishAs(dry, store.OutcomeApplied), nil},
		{"finish a dry run as partial", finishAs(dry, store.OutcomePartial), nil},
		{"finish with an unknown outcome", finishAs(run, "done"), nil},
		{"get unknown run", func() error { _, _, err := st.GetRun(ctx, run.ID+100); return err }, store.ErrNotFound},
		{"begin with bad trigger", func() error { _, err := st.BeginRun(ctx, "cron", store.ModeApply); return err }, nil},
		{"begin with bad mode", func() error { _, err := st.BeginRun(ctx, store.TriggerAPI, "yolo"); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("got %v, want error %v", err, tt.wantErr)
			}
		})
	}
	// None of the failed calls finished the runs.
	for _, r := range []store.Run{run, dry} {
		got, _, err := st.GetRun(ctx, r.ID)
		if err != nil || got.Outcome != store.OutcomeRunning {
			t.Errorf("run after failed calls = %+v, %v; want still running", got, err)
		}
	}
}

// TestMarkInterrupted: runs left running by a dead process become
// interrupted, finished runs stay as they were, and their journal still
// shows what was in flight.
func TestMarkInterrupted(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()

	done, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	done.Outcome = store.OutcomePartial
	done.Error = "one batch failed"
	if err := st.FinishRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	dead, err := st.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.JournalAdd(ctx, dead.ID, []store.Operation{
		{Action: "create", SkillName: "Sales"},
		{Action: "create", SkillName: "Support"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.JournalSet(ctx, []store.OpUpdate{{ID: ids[0], State: store.OpSent}}); err != nil {
		t.Fatal(err)
	}

	n, err := st.MarkInterrupted(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MarkInterrupted = %d, %v; want 1 run", n, err)
	}
	got, ops, err := st.GetRun(ctx, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != store.OutcomeInterrupted || got.FinishedAt == nil || got.Error == "" {
		t.Errorf("dead run = %+v, want interrupted with a finish time and an explanation", got)
	}
	if len(ops) != 2 || ops[0].State != store.OpSent || ops[1].State != store.OpIntended {
		t.Errorf("journal of the dead run = %+v, want sent then intended", ops)
	}
	got, _, err = st.GetRun(ctx, done.ID)
	if err != nil || got.Outcome != store.OutcomePartial || got.Error != "one batch failed" {
		t.Errorf("finished run = %+v, %v; want it untouched", got, err)
	}
	if n, err := st.MarkInterrupted(ctx); err != nil || n != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0", n, err)
	}
}

// TestRecoverAfterCrash: a replica dies in the middle of a run (its
// sessions end, as when the process is killed); another replica then gets
// the run lock and marks the dead run interrupted, journal intact.
func TestRecoverAfterCrash(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	dead := open(t, withParam(t, url, "application_name", "replica_a"), store.Options{})
	live := open(t, withParam(t, url, "application_name", "replica_b"), store.Options{})
	ctx := t.Context()

	lock, err := dead.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run, err := dead.BeginRun(ctx, store.TriggerSchedule, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := dead.JournalAdd(ctx, run.ID, []store.Operation{{Action: "create", SkillName: "Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.JournalSet(ctx, []store.OpUpdate{{ID: ids[0], State: store.OpSent}}); err != nil {
		t.Fatal(err)
	}
	if _, err := live.AcquireRunLock(ctx); !errors.Is(err, store.ErrRunInProgress) {
		t.Fatalf("lock while replica a runs = %v, want ErrRunInProgress", err)
	}

	// Replica a dies: every session of it ends (waiting up to 10s each).
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
		WHERE application_name = 'replica_a'`); err != nil {
		t.Fatal(err)
	}

	l, err := live.AcquireRunLock(ctx)
	if err != nil {
		t.Fatalf("lock after replica a died: %v", err)
	}
	defer l.Release(ctx)
	n, err := live.MarkInterrupted(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MarkInterrupted = %d, %v; want 1", n, err)
	}
	got, ops, err := live.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != store.OutcomeInterrupted || len(ops) != 1 || ops[0].State != store.OpSent {
		t.Errorf("dead run = %+v with journal %+v; want interrupted with its sent operation", got, ops)
	}
	_ = lock.Release(ctx) // its session is gone; this only returns the connection
}

// withParam returns the connection URL u with the query parameter k=v.
func withParam(t testing.TB, u, k, v string) string {
	t.Helper()
	parsed, err := neturl.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	q.Set(k, v)
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

// TestLastRunAndSuccess: the one round trip answers as LastRun and
// LastSuccess do, with no run, with a run that is not a success after a
// success, and for one account of two.
func TestLastRunAndSuccess(t *testing.T) {
	t.Parallel()
	st, url := setup(t)
	ctx := t.Context()
	same := func(when string) {
		t.Helper()
		last, success, err := st.LastRunAndSuccess(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		wantLast, err1 := st.LastRun(ctx)
		wantSuccess, err2 := st.LastSuccess(ctx)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		id := func(r *store.Run) int64 {
			if r == nil {
				return 0
			}
			return r.ID
		}
		if id(last) != id(wantLast) || id(success) != id(wantSuccess) {
			t.Errorf("%s: LastRunAndSuccess = %d, %d; want %d, %d", when, id(last), id(success), id(wantLast), id(wantSuccess))
		}
		if last != nil && (last.Outcome != wantLast.Outcome || last.Plan != nil) {
			t.Errorf("%s: last %+v, want %+v", when, last, wantLast)
		}
	}
	same("no run")
	finish := func(mode store.Mode, outcome store.Outcome) {
		run, err := st.BeginRun(ctx, store.TriggerSchedule, mode)
		if err != nil {
			t.Fatal(err)
		}
		run.Outcome = outcome
		if err := st.FinishRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	finish(store.ModeApply, store.OutcomeApplied)
	same("one applied run")
	finish(store.ModeApply, store.OutcomeRefused)
	same("a refused run after it")
	other := open(t, url, store.Options{Account: "other"})
	if last, success, err := other.LastRunAndSuccess(ctx); err != nil || last != nil || success != nil {
		t.Errorf("another account: %v, %v, %v; want no runs", last, success, err)
	}
}
