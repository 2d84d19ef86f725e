package sync

import (
	"context"
	"errors"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// runEnds records the runner's OnRunEnd calls, and checks at each call
// that the run is stored as reported and that the context is alive.
type runEnds struct {
	t     *testing.T
	st    *store.Store
	mu    gosync.Mutex
	calls []store.Run
}

func (h *runEnds) hook(ctx context.Context, res *Result) {
	if err := ctx.Err(); err != nil {
		h.t.Errorf("OnRunEnd of run %d: context %v", res.Run.ID, err)
	}
	run, _, err := h.st.GetRun(ctx, res.Run.ID)
	if err != nil || run.Outcome != res.Run.Outcome || run.FinishedAt == nil {
		h.t.Errorf("OnRunEnd of run %d (%s): stored %s, finished %v, %v", res.Run.ID, res.Run.Outcome, run.Outcome, run.FinishedAt, err)
	}
	h.mu.Lock()
	h.calls = append(h.calls, res.Run)
	h.mu.Unlock()
}

func (h *runEnds) outcomes() []store.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []store.Outcome
	for _, r := range h.calls {
		out = append(out, r.Outcome)
	}
	return out
}

// hookedRunner is e's runner over src (nil: the HR file) with OnRunEnd
// recorded by the returned runEnds.
func (e *testEnv) hookedRunner(t *testing.T, cfg Config, src RecordSource) (*Runner, *runEnds) {
	t.Helper()
	if src == nil {
		var err error
		src, err = hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
			Active: `status == "active"`, MultiValue: map[string]string{"langs": ";"}}, hrsource.Options{})
		if err != nil {
			t.Fatal(err)
		}
	}
	h := &runEnds{t: t, st: e.store}
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: e.store, BatchSize: e.batch,
		OnRunEnd: h.hook}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, h
}

// TestOnRunEndOncePerOutcome: every run the runner records is reported
// once, whatever its outcome, after it is stored.
func TestOnRunEndOncePerOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	runs := func(t *testing.T, r *Runner, h *runEnds, mode store.Mode, want store.Outcome) {
		t.Helper()
		before := len(h.outcomes())
		res, _ := r.RunOnce(ctx, mode, store.TriggerManual)
		if res == nil || res.Run.Outcome != want {
			t.Fatalf("run: %+v, want %s", res, want)
		}
		if got := h.outcomes()[before:]; len(got) != 1 || got[0] != want {
			t.Fatalf("OnRunEnd calls for a %s run: %v, want one", want, got)
		}
	}
	t.Run("planned, applied, no_changes, refused", func(t *testing.T) {
		t.Parallel()
		e := setup(t, manyHR(10), teamConfig())
		r, h := e.hookedRunner(t, Config{Skills: teamConfig().Skills, Sync: syncConfig(func(c *SyncConfig) { c.MaxActiveDropPercent = 20 })}, nil)
		runs(t, r, h, store.ModePlan, store.OutcomePlanned)
		runs(t, r, h, store.ModeApply, store.OutcomeApplied)
		runs(t, r, h, store.ModeApply, store.OutcomeNoChanges)
		e.writeHR(manyHR(7)) // the source-health guard refuses
		runs(t, r, h, store.ModeApply, store.OutcomeRefused)
	})
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "id,dept\r\n1,Sales\r\n1,Billing\r\n", teamConfig())
		r, h := e.hookedRunner(t, e.cfg, nil)
		runs(t, r, h, store.ModeApply, store.OutcomeFailed)
	})
	t.Run("partial", func(t *testing.T) {
		t.Parallel()
		e := setup(t, manyHR(4), teamConfig())
		e.skills.beforeCreate = func(n int, _ []liveperson.Skill) {
			if n == 1 { // the name is taken between our read and our write
				e.sim.SeedSkills(map[string]any{"name": "team 0002", "description": "made by hand"})
				if _, err := e.client.ListSkills(context.Background(), false); err != nil {
					t.Error(err)
				}
			}
		}
		r, h := e.hookedRunner(t, e.cfg, nil)
		runs(t, r, h, store.ModeApply, store.OutcomePartial)
	})
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		e := setup(t, manyHR(6), teamConfig(), withBatch(2))
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		e.skills.afterCreate = func(n int) {
			if n == 1 {
				cancel() // shutdown while the first batch is in flight
			}
		}
		r, h := e.hookedRunner(t, e.cfg, nil)
		res, err := r.RunOnce(rctx, store.ModeApply, store.TriggerSchedule)
		if err != nil || res.Run.Outcome != store.OutcomeInterrupted {
			t.Fatalf("run: %+v %v", res, err)
		}
		if got := h.outcomes(); len(got) != 1 || got[0] != store.OutcomeInterrupted {
			t.Fatalf("OnRunEnd calls: %v", got)
		}
	})
}

// TestOnRunEndNotCalledForRunInProgress: a run refused because another
// holds the run lock or the run slot did not happen, and is not reported.
func TestOnRunEndNotCalledForRunInProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	r, h := e.hookedRunner(t, e.cfg, nil)
	lock, err := e.store.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(ctx, store.ModeApply, store.TriggerManual); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("err %v, want ErrRunInProgress", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.outcomes(); len(got) != 0 {
		t.Fatalf("OnRunEnd called for a run refused by the lock: %v", got)
	}
	c, ok := r.TryClaim()
	if !ok {
		t.Fatal("no claim on an idle runner")
	}
	if _, ok := r.TryClaim(); ok || !r.Busy() {
		t.Fatal("a second claim while the first is held")
	}
	if _, err := r.RunOnce(ctx, store.ModePlan, store.TriggerAPI); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("err %v, want ErrRunInProgress", err)
	}
	if _, err := c.Run(ctx, store.ModeApply, store.TriggerAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, store.ModeApply, store.TriggerAPI); err == nil {
		t.Error("a claim ran twice")
	}
	if got := h.outcomes(); len(got) != 1 || got[0] != store.OutcomeApplied || r.Busy() {
		t.Fatalf("OnRunEnd calls %v, busy %v; want the one applied run", got, r.Busy())
	}
}

// panicSource panics in Read, as a bug would.
type panicSource struct{}

func (panicSource) Read(context.Context) (*hrsource.Snapshot, error) { panic("injected bug") }

// TestRunPanicRecordedFailed: a run that panics is recorded failed and
// reported once; the runner goes on.
func TestRunPanicRecordedFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r, h := e.hookedRunner(t, e.cfg, panicSource{})
	res, err := r.RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
	if err == nil || !strings.Contains(err.Error(), "panic: injected bug") || res == nil || res.Run.Outcome != store.OutcomeFailed {
		t.Fatalf("run that panicked: %+v %v", res, err)
	}
	if got := h.outcomes(); len(got) != 1 || got[0] != store.OutcomeFailed {
		t.Fatalf("OnRunEnd calls: %v", got)
	}
	if r.Busy() {
		t.Error("the run slot is still held")
	}
}

// TestShutdownAbandonsRun: a run still going when Shutdown stops waiting is
// recorded interrupted and reported once; its own record, when it comes
// later, stays, and is not reported again. No run starts after Shutdown.
func TestShutdownAbandonsRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(3), teamConfig())
	r, h := e.hookedRunner(t, e.cfg, nil)
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	e.skills.beforeCreate = func(int, []liveperson.Skill) {
		once.Do(func() { close(inFlight) })
		<-release // a batch being retried past shutdown_timeout
	}
	type ran struct {
		res *Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := r.RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
		done <- ran{res, err}
	}()
	<-inFlight
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	abandoned, run, err := r.Shutdown(sctx, 50*time.Millisecond, "interrupted: shutdown")
	if !abandoned || err != nil || run == nil || run.Outcome != store.OutcomeInterrupted {
		t.Fatalf("Shutdown: %v %+v %v", abandoned, run, err)
	}
	if got := h.outcomes(); len(got) != 1 || got[0] != store.OutcomeInterrupted {
		t.Fatalf("OnRunEnd calls after the abandonment: %v", got)
	}
	if _, ok := r.TryClaim(); ok {
		t.Error("a run claimed after Shutdown")
	}
	close(release)
	d := <-done
	if d.err != nil || d.res.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("the abandoned run, once it returned: %+v %v", d.res, d.err)
	}
	stored, _, err := e.store.GetRun(ctx, run.ID)
	if err != nil || stored.Outcome != store.OutcomeApplied {
		t.Errorf("stored %s %v: the run's own record must stay", stored.Outcome, err)
	}
	if got := h.outcomes(); len(got) != 1 {
		t.Errorf("OnRunEnd calls: %v, want the abandonment only", got)
	}
	if _, ok := r.TryClaim(); ok {
		t.Error("a run claimed after Shutdown, once the abandoned run returned")
	}
}

// TestShutdownIdle: with no run under way Shutdown abandons nothing, and
// no run starts after it.
func TestShutdownIdle(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r, h := e.hookedRunner(t, e.cfg, nil)
	if abandoned, run, err := r.Shutdown(context.Background(), time.Second, "x"); abandoned || run != nil || err != nil {
		t.Fatalf("Shutdown: %v %+v %v", abandoned, run, err)
	}
	if _, err := r.RunOnce(context.Background(), store.ModeApply, store.TriggerManual); !errors.Is(err, ErrRunInProgress) {
		t.Errorf("run after Shutdown: %v", err)
	}
	if got := h.outcomes(); len(got) != 0 {
		t.Errorf("OnRunEnd calls: %v", got)
	}
}

// TestPreflightRefusesUnrecorded: a run Preflight refuses is recorded
// nowhere, not reported, and frees the slot.
func TestPreflightRefusesUnrecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	h := &runEnds{t: t, st: e.store}
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
		Active: `status == "active"`}, hrsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("schema too new")
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: e.store, OnRunEnd: h.hook,
		Preflight: func(context.Context, store.Mode, store.Trigger) error { return refuse }}, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.RunOnce(ctx, store.ModeApply, store.TriggerManual); !errors.Is(err, refuse) || res != nil {
		t.Fatalf("run: %+v %v", res, err)
	}
	if runs, err := e.store.ListRuns(ctx, 10); err != nil || len(runs) != 0 {
		t.Errorf("runs %+v %v: a refused preflight must not be recorded", runs, err)
	}
	if got := h.outcomes(); len(got) != 0 || r.Busy() || e.writes() != 0 {
		t.Errorf("OnRunEnd calls %v, busy %v, %d writes", got, r.Busy(), e.writes())
	}
}

// TestPreflightAfterLock: Preflight is asked only by a run that holds the
// run lock: a replica skipping an account another holds asks the database
// nothing more. A run it refuses gives the lock back.
func TestPreflightAfterLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, baseHR, deptConfig())
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
		Active: `status == "active"`}, hrsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	refuse := errors.New("schema too new")
	r, err := NewRunner(Deps{Source: src, Skills: e.skills, Users: e.users, Store: e.store,
		Preflight: func(context.Context, store.Mode, store.Trigger) error { asked++; return refuse }}, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := e.store.AcquireRunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(ctx, store.ModeApply, store.TriggerSchedule); !errors.Is(err, ErrRunInProgress) || asked != 0 {
		t.Fatalf("run while another holds the lock: %v, preflight asked %d times; want ErrRunInProgress, not asked", err, asked)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(ctx, store.ModeApply, store.TriggerSchedule); err != refuse || asked != 1 {
		t.Fatalf("run with the lock free: %v, asked %d times; want the refusal itself, asked once", err, asked)
	}
	lock, err = e.store.AcquireRunLock(ctx)
	if err != nil {
		t.Fatalf("the lock after a refused run: %v, want it free", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
