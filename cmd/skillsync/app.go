package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// app is one wired skillsync: the store, the LivePerson client and the HR
// source behind one runner, plus the metrics every run feeds (through the
// runner's OnRunEnd). plan, sync, run and demo all build one. The runner
// owns the run lifecycle: its slot, lock, recording and abandonment.
type app struct {
	cfg *Config
	// acct is the account this app serves: its LivePerson client, HR
	// source, rules and guards, and its view of the store.
	acct    Account
	log     *slog.Logger
	store   *store.Store
	lp      *liveperson.Client
	runner  *sync.Runner
	metrics *metrics
	secrets *secret.Set
	// notify queues and sends notifications (nil without notify.sinks).
	notify *notifier

	// daemonLog is log without the account: for the daemon's own lines.
	daemonLog *slog.Logger
	// sharedStore: the store's pool is the caller's to close.
	sharedStore bool

	// afterRun, when set, is told of every finished run (tests).
	afterRun func(*sync.Result, error)
	// abandoned is set when shutdown gave up waiting for a run: close must
	// not wait for the database connection that run holds.
	abandoned atomic.Bool
	// stopping is set once the daemon's shutdown begins: the gauges are
	// no longer read from the database after a run (an abandoned run is
	// recorded within what is left of shutdown_timeout).
	stopping atomic.Bool
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
	// account, when set, is the account to serve; else the first (the
	// only one without `accounts:`).
	account *Account
	// metrics, when set, are shared with the apps of the other accounts.
	metrics *metrics
	// sharedStore: the store belongs to the caller, close leaves it open.
	sharedStore bool
}

func newApp(ctx context.Context, cfg *Config, log *slog.Logger, e *env) (*app, error) {
	return newAppWith(ctx, cfg, log, appOptions{env: e})
}

func newAppWith(ctx context.Context, cfg *Config, log *slog.Logger, opts appOptions) (_ *app, err error) {
	a := &app{cfg: cfg, metrics: opts.metrics, secrets: secret.NewSet(configSecrets(cfg)...), sharedStore: opts.sharedStore}
	if a.metrics == nil {
		a.metrics = newMetrics()
	}
	if opts.account != nil {
		a.acct = *opts.account
	} else {
		a.acct = cfg.AccountList()[0]
	}
	// Lines logged with a run's context carry its run_id (the runner puts
	// it there; the LivePerson client logs with the context it is given);
	// with several accounts, every line names its account.
	log = slog.New(sync.LogHandler(log.Handler()))
	a.daemonLog = log
	if cfg.accountsLive() {
		log = log.With("account", a.acct.Name)
	}
	a.log = log
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if opts.store != nil {
		a.store = opts.store.Account(a.acct.ID())
	} else {
		root, err := openStore(ctx, cfg.Database.URL, store.Options{Logger: log, LockKey: opts.lockKey, NameKey: sync.NameKey})
		if err != nil {
			return nil, err
		}
		if err := claimLegacy(ctx, root, cfg, "", log); err != nil {
			root.Close()
			return nil, err
		}
		a.store = root.Account(a.acct.ID())
	}
	var poll time.Duration
	if opts.env != nil {
		poll = opts.env.notifyPoll
	}
	a.notify = newNotifier(a, poll)
	lpOpts := liveperson.Options{Logger: log, Observe: a.metrics.observeLP(a.acct.Name)}
	if opts.env != nil {
		lpOpts.HTTPClient = opts.env.lpHTTPClient
		a.afterRun = opts.env.afterRun
	}
	if a.lp, err = liveperson.New(a.acct.LivePerson, lpOpts); err != nil {
		return nil, fmt.Errorf("liveperson client: %w", err)
	}
	// The connectors that name the fields they ask for (BambooHR,
	// SuccessFactors) ask for the rules' columns too. The runner gets the
	// rules compiled here; rules that do not compile fail NewRunner below.
	var ruleColumns []string
	rules, err := sync.CompileRules(a.acct.Skills)
	if err == nil {
		ruleColumns = rules.Columns()
	}
	engine := cfg.engineFor(a.acct)
	src, err := hrsource.New(a.acct.HR, hrsource.Options{Logger: log, Columns: ruleColumns, Location: engine.Location})
	if err != nil {
		return nil, fmt.Errorf("hr source: %w", err)
	}
	a.runner, err = sync.NewRunner(sync.Deps{
		Source: countingSource{src: src, m: a.metrics, acct: a.acct.Name},
		Skills: a.lp,
		Users:  a.lp,
		// A scheduled tick's run is skipped when another replica ran
		// the account for the same tick (tickStore).
		Store:     tickStore{Store: a.store},
		Logger:    log,
		BatchSize: a.acct.LivePerson.BatchSize,
		// What a run stores (its error, the journal, the plan) may quote
		// a server that repeated a credential back.
		Redact: a.redact,
		// Every run recorded feeds the metrics, and the notifications.
		OnRunEnd:  a.runEnded,
		Preflight: a.checkSchema,
		Rules:     rules,
	}, engine)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if opts.metrics == nil {
		a.metrics.busy = a.runner.Busy
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
	if a.store == nil || a.sharedStore {
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
// through the runner, which holds the run slot and the Postgres lock,
// records the run and reports it to the metrics (runEnded).
func (a *app) runOnce(ctx context.Context, mode store.Mode, trigger store.Trigger) (*sync.Result, error) {
	c, ok := a.runner.TryClaim()
	if !ok {
		return nil, sync.ErrRunInProgress
	}
	return a.runClaimed(ctx, c, mode, trigger)
}

// busy says whether a run of this process is under way.
func (a *app) busy() bool { return a.runner != nil && a.runner.Busy() }

// runClaimed runs c (a claim of the runner's slot, which lets the HTTP
// trigger answer "started" or "in progress" before the run's goroutine
// begins).
func (a *app) runClaimed(ctx context.Context, c *sync.Claim, mode store.Mode, trigger store.Trigger) (*sync.Result, error) {
	res, err := c.Run(ctx, mode, trigger)
	if errors.Is(err, sync.ErrRunInProgress) {
		// Another replica holds the lock: its runs count as much as ours
		// for the alert.
		a.refreshFromStore(ctx)
	}
	if a.afterRun != nil {
		a.afterRun(res, err)
	}
	return res, err
}

// runEnded is the runner's OnRunEnd: every run it records feeds the
// metrics, then the gauges that speak for every process are read again.
func (a *app) runEnded(ctx context.Context, res *sync.Result) {
	a.metrics.observeRun(a.acct.Name, res.Run)
	a.notify.runEnded(ctx, res)
	if !a.stopping.Load() {
		a.refreshFromStore(ctx)
	}
}

// checkSchema refuses a run on a database that a newer skillsync has
// migrated since this process started (a rolling upgrade's new replica):
// this build's queries may not fit its tables. Other problems (the
// database is down) are left to the run, which reports them.
func (a *app) checkSchema(ctx context.Context, mode store.Mode, trigger store.Trigger) error {
	status, err := a.store.SchemaStatus(ctx)
	if err != nil {
		return nil
	}
	var tooNew *store.SchemaTooNewError
	if errors.As(status.Err(), &tooNew) {
		err := schemaError(tooNew)
		a.log.Error("run refused: the database schema is newer than this skillsync", "mode", mode, "trigger", trigger, "err", err)
		return err
	}
	return nil
}

// countingSource reports the size and duration of every feed read to the
// metrics.
type countingSource struct {
	src  hrsource.Source
	m    *metrics
	acct string
}

func (s countingSource) Read(ctx context.Context) (*hrsource.Snapshot, error) {
	start := time.Now()
	snap, err := s.src.Read(ctx)
	if err == nil {
		s.m.observeHR(s.acct, time.Since(start), snap.Stats.Records, snap.Stats.Active, true)
	} else {
		s.m.observeHR(s.acct, time.Since(start), 0, 0, false)
	}
	return snap, err
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
	last, r, err := a.store.LastRunAndSuccess(ctx)
	if err != nil {
		a.log.Warn("could not read the last run and the last successful one for skillsync_last_run_refused and skillsync_last_success_timestamp_seconds", "err", err)
		return
	}
	if r != nil && r.FinishedAt != nil {
		a.metrics.setLastSuccess(a.acct.Name, r.FinishedAt.Unix())
	}
	if last != nil {
		a.metrics.observeLastRun(a.acct.Name, *last)
	}
}
