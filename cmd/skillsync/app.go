package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// app is one wired skillsync: the store, the LivePerson client and the HR
// source behind one runner, plus the metrics every run feeds. plan, sync,
// run and demo all build one.
type app struct {
	cfg   *Config
	log   *slog.Logger
	store *store.Store
	// runs is the store as the runner sees it: it knows which run of this
	// process is under way.
	runs    *trackingStore
	lp      *liveperson.Client
	runner  *sync.Runner
	metrics *metrics
	secrets *secret.Set

	// slot is this process's run slot (capacity 1), taken by claim. The
	// runner's guard and the database lock keep runs apart as well; the
	// slot lets the HTTP trigger answer 409 at once, /status report the
	// run, and shutdown wait for the run to end by taking it.
	slot chan struct{}
	// afterRun, when set, is told of every finished run (tests).
	afterRun func(*sync.Result, error)
	// abandoned is set when shutdown gave up waiting for a run: close must
	// not wait for the database connection that run holds.
	abandoned atomic.Bool
	// closeBy, when set (by the daemon's shutdown, in the goroutine that
	// then calls close), is the end of shutdown_timeout: the logout at
	// close must not run past it.
	closeBy time.Time
}

// appOptions are the parts of the wiring that tests and the demo replace.
type appOptions struct {
	env *env
	// store, when set, is used instead of opening database.url.
	store *store.Store
	// lockKey, when set, is the run lock's advisory key instead of the
	// default one (the demo's, so that it never excludes a real skillsync
	// on the same database, nor is excluded by one).
	lockKey int64
}

func newApp(ctx context.Context, cfg *Config, log *slog.Logger, e *env) (*app, error) {
	return newAppWith(ctx, cfg, log, appOptions{env: e})
}

func newAppWith(ctx context.Context, cfg *Config, log *slog.Logger, opts appOptions) (_ *app, err error) {
	a := &app{cfg: cfg, metrics: newMetrics(), secrets: secret.NewSet(configSecrets(cfg)...), slot: make(chan struct{}, 1)}
	// Lines logged with a run's context carry its run_id (the runner puts
	// it there; the LivePerson client logs with the context it is given).
	log = slog.New(sync.LogHandler(log.Handler()))
	a.log = log
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.store = opts.store
	if a.store == nil {
		if a.store, err = openStore(ctx, cfg.Database.URL, store.Options{Logger: log, LockKey: opts.lockKey}); err != nil {
			return nil, err
		}
	}
	a.runs = &trackingStore{Store: a.store}
	lpOpts := liveperson.Options{Logger: log, Observe: a.metrics.observeLP}
	if opts.env != nil {
		lpOpts.HTTPClient = opts.env.lpHTTPClient
		a.afterRun = opts.env.afterRun
	}
	if a.lp, err = liveperson.New(cfg.LivePerson, lpOpts); err != nil {
		return nil, fmt.Errorf("liveperson client: %w", err)
	}
	// The connectors that name the fields they ask for (BambooHR,
	// SuccessFactors) ask for the rules' columns too. Rules that do not
	// compile fail NewRunner below.
	var ruleColumns []string
	if rules, err := sync.CompileRules(cfg.Skills); err == nil {
		ruleColumns = rules.Columns()
	}
	src, err := hrsource.New(cfg.HR, hrsource.Options{Logger: log, Columns: ruleColumns})
	if err != nil {
		return nil, fmt.Errorf("hr source: %w", err)
	}
	a.runner, err = sync.NewRunner(sync.Deps{
		Source:    countingSource{src: src, m: a.metrics},
		Skills:    a.lp,
		Users:     a.lp,
		Store:     a.runs,
		Logger:    log,
		BatchSize: cfg.LivePerson.BatchSize,
		// What a run stores (its error, the journal, the plan) may quote
		// a server that repeated a credential back.
		Redact: a.redact,
	}, sync.Config{
		Skills:      cfg.Skills,
		Assignments: cfg.Assignments,
		Sync:        cfg.Sync,
	})
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return a, nil
}

// logoutTimeout bounds the LivePerson logout at close.
const logoutTimeout = 5 * time.Second

// close releases the LivePerson session (login method) and the database.
func (a *app) close() {
	if a.lp != nil {
		// Logging out (login method) must not stretch a shutdown that
		// shutdown_timeout bounds: LivePerson may be what is slow.
		deadline := time.Now().Add(logoutTimeout)
		if !a.closeBy.IsZero() && a.closeBy.Before(deadline) {
			deadline = a.closeBy
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := a.lp.Close(ctx); err != nil {
			a.log.Warn("close liveperson client", "err", err)
		}
	}
	if a.store == nil {
		return
	}
	if !a.abandoned.Load() {
		a.store.Close()
		return
	}
	// The abandoned run still holds a pooled connection (its run lock),
	// and Close waits for every connection to come back: do not wait. The
	// process is about to exit, which ends that session and its lock on
	// the server.
	go a.store.Close()
}

// redact hides the configured secrets in text meant for an HTTP answer.
func (a *app) redact(s string) string { return a.secrets.Replace(s) }

// runOnce is the one way every run starts (cron, HTTP, plan, sync, demo):
// through the runner, which holds the in-process guard and the Postgres
// lock, then into the metrics.
func (a *app) runOnce(ctx context.Context, mode store.Mode, trigger store.Trigger) (*sync.Result, error) {
	if !a.claim() {
		return nil, sync.ErrRunInProgress
	}
	return a.runClaimed(ctx, mode, trigger)
}

// claim takes this process's run slot, so that a caller (the HTTP trigger)
// can answer "started" or "in progress" before the run's goroutine begins.
// Whoever claims must call runClaimed.
func (a *app) claim() bool {
	select {
	case a.slot <- struct{}{}:
		a.metrics.runInProgress.Set(1)
		return true
	default:
		return false
	}
}

// busy says whether a run of this process is under way.
func (a *app) busy() bool { return len(a.slot) > 0 }

func (a *app) runClaimed(ctx context.Context, mode store.Mode, trigger store.Trigger) (res *sync.Result, err error) {
	defer func() {
		a.metrics.runInProgress.Set(0)
		<-a.slot
		if a.afterRun != nil {
			a.afterRun(res, err)
		}
	}()
	// A bug that panics must not take the daemon down (a run started by
	// POST /v1/runs?wait=false has no other recovery), nor leave the run
	// recorded as running: it is recorded as failed. The runner's own
	// deferred steps (releasing the run lock) have run by now.
	defer func() {
		if p := recover(); p != nil {
			res, err = a.recordPanic(ctx, p)
		}
	}()
	if err = a.checkSchema(ctx); err != nil {
		a.log.Error("run refused: the database schema is newer than this skillsync", "mode", mode, "trigger", trigger, "err", err)
		return nil, err
	}
	res, err = a.runner.RunOnce(ctx, mode, trigger)
	if res != nil {
		a.metrics.observeRun(res.Run)
	}
	if res != nil || errors.Is(err, sync.ErrRunInProgress) {
		// After a run of ours, or when another replica holds the lock
		// (its runs count as much as ours for the alert).
		a.refreshFromStore(ctx)
	}
	if err != nil && res == nil && !errors.Is(err, sync.ErrRunInProgress) {
		// The runner logs the runs it records; this one never got that far
		// (the database is down, say), and must not fail silently.
		a.log.Error("run failed before it could be recorded", "mode", mode, "trigger", trigger, "err", err)
	}
	return res, err
}

// recordPanic records the run that panicked as failed, and returns it
// with the error.
func (a *app) recordPanic(ctx context.Context, p any) (*sync.Result, error) {
	err := fmt.Errorf("the run stopped on an internal error (a bug; please report it with the log): panic: %v", p)
	a.log.Error("run panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	run, rerr := a.runs.closeCurrent(rctx, store.OutcomeFailed, a.redact(err.Error()))
	if rerr != nil {
		a.log.Error("the run that panicked could not be recorded; the next run marks it interrupted", "err", rerr)
		return nil, err
	}
	if run == nil {
		return nil, err // it panicked before it was recorded
	}
	a.metrics.observeRun(*run)
	return &sync.Result{Run: *run}, err
}

// checkSchema refuses a run on a database that a newer skillsync has
// migrated since this process started (a rolling upgrade's new replica):
// this build's queries may not fit its tables. Other problems (the
// database is down) are left to the run, which reports them.
func (a *app) checkSchema(ctx context.Context) error {
	status, err := a.store.SchemaStatus(ctx)
	if err != nil {
		return nil
	}
	var tooNew *store.SchemaTooNewError
	if errors.As(status.Err(), &tooNew) {
		return schemaError(tooNew)
	}
	return nil
}

// countingSource reports the size and duration of every feed read to the
// metrics.
type countingSource struct {
	src hrsource.Source
	m   *metrics
}

func (s countingSource) Read(ctx context.Context) (*hrsource.Snapshot, error) {
	start := time.Now()
	snap, err := s.src.Read(ctx)
	s.m.hrReadDuration.Observe(time.Since(start).Seconds())
	if err == nil {
		s.m.hrRecords.WithLabelValues("all").Set(float64(snap.Stats.Records))
		s.m.hrRecords.WithLabelValues("active").Set(float64(snap.Stats.Active))
	}
	return snap, err
}

// closeInterrupted marks runs left `running` as interrupted: their process
// died, or lost the database before it could record the outcome. It does so
// only while holding the run lock, so that a live run of another process is
// never touched; when the lock is taken (or the database is down), it leaves
// the matter to the next run. Every run does the same under its own lock
// (sync.Runner.RunOnce); the daemon calls this at start-up so that /status
// is right before its first run.
func (a *app) closeInterrupted(ctx context.Context) {
	lock, err := a.store.AcquireRunLock(ctx)
	if err != nil {
		return
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			a.log.Warn("release run lock", "err", err)
		}
	}()
	n, err := a.store.MarkInterrupted(ctx)
	if err != nil {
		a.log.Warn("could not mark interrupted runs", "err", err)
		return
	}
	if n > 0 {
		a.log.Warn("runs left unfinished by an earlier process are now marked interrupted", "runs", n)
	}
}

// refreshFromStore sets the gauges that speak for every process from the
// database: skillsync_last_success_timestamp_seconds, the latest successful
// apply run of any process, and skillsync_last_run_refused, whether the
// latest finished run was refused. Gauges fed only by this process's runs
// read 0 after a restart and on a standby replica: the "no success for 3
// hours" alert would fire on a healthy installation, and a broken feed
// would look fixed. A failed query keeps the gauges as they are.
func (a *app) refreshFromStore(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r, err := a.store.LastSuccess(ctx)
	if err != nil {
		a.log.Warn("could not read the last successful run for skillsync_last_success_timestamp_seconds", "err", err)
		return
	}
	if r != nil && r.FinishedAt != nil {
		a.metrics.lastSuccess.Set(float64(r.FinishedAt.Unix()))
	}
	last, err := a.store.LastRun(ctx)
	if err != nil {
		a.log.Warn("could not read the last run for skillsync_last_run_refused", "err", err)
		return
	}
	if last != nil {
		a.metrics.observeLastRun(*last)
	}
}

// trackingStore is the store the runner records runs in, plus the one
// thing the daemon needs to know during shutdown: which run of this
// process has begun and not finished yet.
type trackingStore struct {
	*store.Store

	mu      gosync.Mutex
	current *store.Run
	// closing is closed once interruptCurrent has recorded the run; a
	// FinishRun of that run waits for it, so that the runner's own record,
	// if it still comes, is the one that stays.
	closing chan struct{}
}

// BeginRun records the run as this process's current one.
func (s *trackingStore) BeginRun(ctx context.Context, trigger store.Trigger, mode store.Mode) (store.Run, error) {
	run, err := s.Store.BeginRun(ctx, trigger, mode)
	if err == nil {
		s.mu.Lock()
		s.current = &run
		s.mu.Unlock()
	}
	return run, err
}

// FinishRun records how the run ended; it is no longer current.
func (s *trackingStore) FinishRun(ctx context.Context, run store.Run) error {
	s.mu.Lock()
	if s.current != nil && s.current.ID == run.ID {
		s.current = nil
	}
	wait := s.closing
	s.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return s.Store.FinishRun(ctx, run)
}

// interruptCurrent records the current run, if any, as interrupted with
// reason, in place of the runner that cannot do it in time. It returns the
// run's id (0 when no run was under way).
func (s *trackingStore) interruptCurrent(ctx context.Context, reason string) (int64, error) {
	run, err := s.closeCurrent(ctx, store.OutcomeInterrupted, reason)
	if run == nil {
		return 0, err
	}
	return run.ID, err
}

// closeCurrent records the current run, if any, with outcome and reason,
// in place of the runner that cannot (it did not stop in time, or it
// panicked). It returns the run as recorded (nil when no run was under
// way).
func (s *trackingStore) closeCurrent(ctx context.Context, outcome store.Outcome, reason string) (*store.Run, error) {
	s.mu.Lock()
	cur := s.current
	s.current = nil
	if cur == nil {
		s.mu.Unlock()
		return nil, nil
	}
	done := make(chan struct{})
	s.closing = done
	s.mu.Unlock()
	defer close(done)
	run := *cur
	now := time.Now()
	run.Outcome, run.FinishedAt, run.Error = outcome, &now, reason
	return &run, s.Store.FinishRun(ctx, run)
}
