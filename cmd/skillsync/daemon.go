package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	gosync "sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/internal/authlimit"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

func (c *cli) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: migrations, scheduler and HTTP server",
		Long: `Run skillsync as a service: apply database migrations, then run in apply mode on
the configured schedule (and once at start-up with run_at_start), and serve
/livez, /readyz, /status, /metrics, POST /v1/runs, POST /v1/hr-events and the
web console (at /, with server.trigger_token) on server.listen, over HTTPS with
server.tls_cert_file and server.tls_key_file. POST /v1/hr-events (the bearer trigger token, or an
X-Skillsync-Signature: sha256=<hex HMAC-SHA256 of the body> keyed with
hr.webhook_secret) asks for a run hr.event_debounce after the last event of a
burst; it answers 202 with the time the run starts. With notify.sinks, it sends
the runs' notifications in the background (those an earlier process left queued
too; with several replicas, each once).

With several accounts (accounts:), each tick of a schedule runs the accounts due
in a random order, daemon.concurrency at a time, skipping those another replica
is running or has run for the tick; POST /v1/runs then needs ?account=NAME.

SIGTERM or SIGINT stops scheduling, lets a running run finish its current
batch, records its outcome and exits 0, all within shutdown_timeout: a run
still going 5 s before the end (a batch being retried, say; for a
shutdown_timeout under 25 s, a fifth of it, at least 1 s or half of it) is
recorded as interrupted by the daemon, which exits without it; the next run
settles the batch it left in flight.`,
		Example: `  skillsync run --config /etc/skillsync/config.yaml
  skillsync run --log-format json --log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := c.loadThen(func(log *slog.Logger) {
				b := currentBuild()
				log.Info("skillsync starting", "version", b.Version, "revision", b.Revision, "go_version", b.GoVersion)
			})
			if err != nil {
				return err
			}
			apps, closeApps, err := newApps(cmd.Context(), cfg, log, c.env)
			if err != nil {
				return err
			}
			defer closeApps()
			return newDaemonFor(apps, c.env).serve(cmd.Context())
		},
	}
}

// daemon is `skillsync run`: the scheduler and the HTTP server over the
// apps of the accounts (one without accounts:).
type daemon struct {
	// app is the first account's: its configuration, store pool, metrics
	// and logger serve the whole daemon.
	app  *app
	apps []*app
	log  *slog.Logger
	env  *env

	cron  *cron.Cron
	entry cron.EntryID
	// entries are the cron entries of the accounts' schedules.
	entries map[*app]cron.EntryID
	// slots bound the runs of scheduled ticks and of HR events
	// (daemon.concurrency).
	slots chan struct{}

	// runCtx is the context of every run this daemon starts. It outlives
	// the shutdown signal so that a running run can finish its batch; it is
	// cancelled when the grace period is over.
	runCtx     context.Context
	cancelRuns context.CancelFunc
	// shutdown is closed when the daemon stops accepting new runs.
	shutdown chan struct{}
	// runs tracks the goroutines of runs started outside cron.
	runs gosync.WaitGroup
	// hrEvents debounces POST /v1/hr-events into runs (hrevents.go).
	hrEvents *hrEvents
	// guesses slows down clients that send wrong credentials to any of
	// the daemon's endpoints that take the trigger token or the HR events
	// signature, the console's sign-in included (one count for them all).
	guesses *authlimit.Limiter
}

func newDaemon(a *app, e *env) *daemon {
	return newDaemonFor([]*app{a}, e)
}

// newDaemonFor is the daemon of the accounts' apps.
func newDaemonFor(apps []*app, e *env) *daemon {
	a := apps[0]
	concurrency := 1
	if a.cfg != nil {
		concurrency = max(1, a.cfg.Daemon.Concurrency)
	}
	log := a.daemonLog
	if log == nil {
		log = a.log
	}
	return &daemon{app: a, apps: apps, log: log, env: e, shutdown: make(chan struct{}),
		entries: map[*app]cron.EntryID{}, slots: make(chan struct{}, concurrency), guesses: authlimit.New()}
}

// accountApps are the apps of every account, the first one's first.
func (d *daemon) accountApps() []*app { return d.apps }

// cronLogger adapts slog to cron's logger: cron reports recovered panics
// through it. A scheduled run that finds another going is skipped by the
// runner (runAndLog logs it).
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug("cron: "+msg, kv...)
}
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{"err", err}, kv...)...)
}

// serve runs until ctx is cancelled, then shuts down gracefully. It
// returns nil after a clean shutdown.
func (d *daemon) serve(ctx context.Context) error {
	cfg := d.app.cfg
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return fmt.Errorf("timezone: %w", err)
	}
	for _, a := range d.apps {
		// Runs a dead process left `running` show as such on /status
		// until the first run; close them now (the runner does so only
		// holding the account's lock).
		a.runner.CloseInterrupted(ctx)
		// The last success of any process so far, not 0 until this one
		// has a run of its own (a restart, a standby replica).
		a.refreshFromStore(ctx)
	}

	d.runCtx, d.cancelRuns = context.WithCancel(context.WithoutCancel(ctx))
	defer d.cancelRuns()
	// Notifications go out in the background, those an earlier process
	// left queued included; stopped (and waited for) on the way out.
	defer d.startNotifications(ctx)()

	cl := cronLogger{d.log}
	d.cron = cron.New(
		cron.WithLocation(loc),
		cron.WithParser(cronParser),
		cron.WithLogger(cl),
		// A panic outside a run is logged without taking the daemon
		// down (the runner records a run that panics). Overlapping runs
		// need no guard here: the runner's slot skips them.
		cron.WithChain(cron.Recover(cl)),
	)
	var ticks []cron.EntryID
	for _, group := range bySchedule(d.apps) {
		spec := group[0].acct.Schedule
		if spec == "" {
			spec = cfg.Schedule
		}
		id, err := d.cron.AddFunc(spec, func() {
			d.tick(group, spec)
			d.log.Info("next run scheduled", "next_run", d.nextRunOf(group[0]))
		})
		if err != nil {
			return fmt.Errorf("schedule %q: %w", spec, err)
		}
		ticks = append(ticks, id)
		for _, a := range group {
			d.entries[a] = id
		}
	}
	d.entry = d.entries[d.app]

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen %s: %w (is another skillsync or service using it?)", cfg.Server.Listen, err)
	}
	lim := defaultServerLimits()
	if d.env.serverLimits != nil {
		lim = *d.env.serverLimits
	}
	srv := &http.Server{Handler: d.handler(),
		// Anyone who can reach the port can open connections: none may
		// be held open by sending slowly, reading slowly or idling.
		ReadHeaderTimeout: lim.readHeader, ReadTimeout: lim.read, WriteTimeout: lim.write,
		IdleTimeout: lim.idle, MaxHeaderBytes: lim.maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	if cfg.Server.TLS() {
		go func() { served <- srv.ServeTLS(ln, cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile) }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}

	d.cron.Start()
	d.log.Info("skillsync started", "schedule", cfg.Schedule, "timezone", loc.String(), "listen", ln.Addr().String(),
		"next_run", d.nextRun(), "run_at_start", cfg.RunAtStart, "trigger_endpoint", cfg.Server.TriggerToken != "",
		"console", cfg.Server.TriggerToken != "", "tls", cfg.Server.TLS())
	if d.env.onListen != nil {
		d.env.onListen(ln.Addr().String())
	}
	if cfg.RunAtStart {
		// Through the wrapped jobs, so the start-up run is the same job
		// as the scheduled ones.
		for _, id := range ticks {
			d.runs.Go(d.cron.Entry(id).WrappedJob.Run)
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		serveErr = fmt.Errorf("http server on %s stopped: %w", ln.Addr(), err)
		d.log.Error("http server stopped; shutting down", "err", err)
	}
	d.stop(srv)
	return serveErr
}

// serverLimits bound what a client of the daemon's HTTP server may hold.
// A handler that legitimately takes longer (POST /v1/runs waiting for its
// run) lifts its own write deadline.
type serverLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

func defaultServerLimits() serverLimits {
	return serverLimits{
		readHeader:     10 * time.Second,
		read:           30 * time.Second, // no endpoint takes a body of any size
		write:          30 * time.Second,
		idle:           60 * time.Second,
		maxHeaderBytes: 32 << 10,
	}
}

// recordReserve is the part of shutdown_timeout kept, at the end, for
// recording a run that did not stop in time and closing down (the HTTP
// server, the LivePerson logout), so that the whole shutdown fits in
// shutdown_timeout (an orchestrator's grace period set to it is then
// enough). Timeouts under 5*recordReserve keep less: see shutdownReserve.
const recordReserve = 5 * time.Second

// shutdownReserve is the part of timeout kept for recording and closing
// down: recordReserve, a fifth of a timeout under 25 s, but never under
// 1 s nor half the timeout when that is more (a fifth of 2 s would leave
// 400 ms to write one row on a loaded machine). The run is waited for
// during the rest.
func shutdownReserve(timeout time.Duration) time.Duration {
	return min(recordReserve, max(timeout/5, min(time.Second, timeout/2)))
}

// stop is the graceful shutdown: no new runs, the running one told to stop
// after its current batch and waited for, then the HTTP server, all within
// shutdown_timeout. A run still going when the wait is over is recorded as
// interrupted by the runner, and abandoned: the process exits.
func (d *daemon) stop(srv *http.Server) {
	timeout := d.app.cfg.ShutdownTimeout
	deadline := time.Now().Add(timeout)
	reserve := shutdownReserve(timeout)
	// close, which follows, logs out of LivePerson within what is left.
	busy := false
	for _, a := range d.apps {
		a.closeBy = deadline
		a.stopping.Store(true)
		busy = busy || a.busy()
	}
	d.log.Info("shutting down: no new runs will start", "run_in_progress", busy, "shutdown_timeout", timeout)
	close(d.shutdown)
	if d.hrEvents != nil {
		d.hrEvents.stop()
	}
	cronDone := d.cron.Stop().Done()
	// The running run is asked to stop now: the runner finishes the batch
	// it is sending, records the run as interrupted and returns. The
	// runner's Shutdown waits for it (any run: scheduled, at start-up or
	// HTTP-triggered), and keeps a new one from starting.
	d.cancelRuns()
	if d.env.onStopping != nil {
		d.env.onStopping()
	}
	if !d.abandonRuns(timeout, deadline, reserve) {
		// Nothing can run now; let cron's and the trigger's goroutines end.
		<-cronDone
		d.runs.Wait()
	}

	// What is left of shutdown_timeout goes to requests still being
	// answered (a POST /v1/runs waiting for the abandoned run would hold
	// Shutdown to the end): then their connections are closed.
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		d.log.Warn("http server shutdown: closing the connections still open", "err", err)
		_ = srv.Close()
	}
	d.log.Info("skillsync stopped")
}

// abandonRuns is abandonRun for every account at once; it reports
// whether any run was abandoned.
func (d *daemon) abandonRuns(timeout time.Duration, deadline time.Time, reserve time.Duration) bool {
	var wg gosync.WaitGroup
	var mu gosync.Mutex
	abandoned := false
	for _, a := range d.apps {
		wg.Go(func() {
			if d.abandonRun(a, timeout, deadline, reserve) {
				mu.Lock()
				abandoned = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return abandoned
}

// abandonRun waits for the running run (the runner's Shutdown) until
// timeout-reserve; a run still going then is recorded as interrupted by the
// runner, and abandoned: the process exits without it (see
// sync.Runner.Shutdown). Recording it must be done by deadline, the end of
// shutdown_timeout: the orchestrator kills the process then. It reports
// whether a run was abandoned.
func (d *daemon) abandonRun(a *app, timeout time.Duration, deadline time.Time, reserve time.Duration) bool {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	reason := fmt.Sprintf("interrupted: shutdown_timeout (%s) expired while a LivePerson request was in flight; "+
		"the journal shows it as sent, and the next run settles it", timeout)
	abandoned, run, err := a.runner.Shutdown(ctx, timeout-reserve, reason)
	if !abandoned {
		return false
	}
	// close must not wait for the database connection the run holds.
	a.abandoned.Store(true)
	switch {
	case err != nil:
		d.log.Error("the run did not stop within shutdown_timeout and could not be recorded; the next start marks it interrupted",
			"shutdown_timeout", timeout, "err", err)
	case run != nil:
		d.log.Warn("the run did not stop within shutdown_timeout: recorded as interrupted, exiting without it",
			"run_id", run.ID, "shutdown_timeout", timeout)
	default:
		d.log.Warn("a run did not stop within shutdown_timeout before it was recorded; exiting without it",
			"shutdown_timeout", timeout)
	}
	return true
}

// nextRun is the next scheduled run time, zero when stopped.
func (d *daemon) nextRun() time.Time {
	return d.nextRunOf(d.app)
}

// nextRunOf is the next scheduled run of a's account, zero when stopped.
func (d *daemon) nextRunOf(a *app) time.Time {
	id, ok := d.entries[a]
	if d.cron == nil || !ok {
		return time.Time{}
	}
	return d.cron.Entry(id).Next
}

// runAndLog runs a's account once for cron; the outcome is already logged
// and counted by the app, so only a skip is worth a line here.
func (d *daemon) runAndLog(ctx context.Context, a *app, mode store.Mode, trigger store.Trigger) {
	select {
	case <-d.shutdown:
		return
	default:
	}
	_, err := a.runOnce(ctx, mode, trigger)
	if errors.Is(err, sync.ErrRunInProgress) {
		a.log.Info("run skipped: another run is in progress", "trigger", trigger)
	}
}
