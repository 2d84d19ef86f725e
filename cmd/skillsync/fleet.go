package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	gosync "sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// newApps wires the app of every account for the daemon, on one database
// pool and one set of metrics (whose series carry the label account when
// the configuration has accounts:). Without accounts: it is newApp's one
// app, as before accounts. The returned func closes them all.
func newApps(ctx context.Context, cfg *Config, log *slog.Logger, e *env) ([]*app, func(), error) {
	if !cfg.accountsLive() {
		a, err := newApp(ctx, cfg, log, e)
		if err != nil {
			return nil, nil, err
		}
		return []*app{a}, a.close, nil
	}
	// Each running account pins a connection for its lock and needs
	// others for its queries: a pool the locks fill would starve every
	// run until its queries time out.
	root, err := openStore(ctx, cfg.Database.URL, store.Options{Logger: log, NameKey: sync.NameKey,
		MaxConns: poolSize(cfg.Daemon.Concurrency), MinConns: warmConns(cfg.Daemon.Concurrency)})
	if err != nil {
		return nil, nil, err
	}
	if err := claimLegacy(ctx, root, cfg, "", log); err != nil {
		root.Close()
		return nil, nil, err
	}
	accounts := cfg.AccountList()
	names := make([]string, len(accounts))
	for i, a := range accounts {
		names[i] = a.Name
	}
	m := newMetricsFor(names)
	var apps []*app
	closeAll := func() {
		abandoned := false
		for _, a := range apps {
			a.close()
			abandoned = abandoned || a.abandoned.Load()
		}
		if abandoned {
			// An abandoned run holds a pooled connection: do not wait
			// for it (the process exits, which ends its session).
			go root.Close()
			return
		}
		root.Close()
	}
	for i := range accounts {
		a, err := newAppWith(ctx, cfg, log, appOptions{env: e, store: root, account: &accounts[i], metrics: m, sharedStore: true})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("account %s: %w", accounts[i].Name, err)
		}
		apps = append(apps, a)
	}
	m.busy = func() bool { return slices.ContainsFunc(apps, (*app).busy) }
	m.busyAccounts = func() map[string]bool {
		out := make(map[string]bool, len(apps))
		for _, a := range apps {
			out[a.acct.Name] = a.busy()
		}
		return out
	}
	return apps, closeAll, nil
}

// bySchedule groups apps by their accounts' schedules, in the order of
// the configuration.
func bySchedule(apps []*app) [][]*app {
	var groups [][]*app
	index := map[string]int{}
	for _, a := range apps {
		i, ok := index[a.acct.Schedule]
		if !ok {
			i = len(groups)
			index[a.acct.Schedule] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], a)
	}
	return groups
}

// tick runs the accounts of one schedule that are due, in this replica's
// own random order, at most daemon.concurrency at once (across ticks). An
// account whose lock another replica holds is skipped (the runner's
// ErrRunInProgress), and so is one another replica has already run for
// this tick (tickStore): N replicas share the work of a tick. One
// account's failure, refusal or skip never stops or delays another's.
func (d *daemon) tick(apps []*app, spec string) {
	now := time.Now()
	ctx := d.runCtx
	if sched, err := cronParser.Parse(spec); err == nil {
		ctx = context.WithValue(ctx, tickKey{}, tickSince(sched, now))
	}
	order := slices.Clone(apps)
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var wg gosync.WaitGroup
	defer wg.Wait()
	for _, a := range order {
		select {
		case <-d.shutdown:
			return
		case d.slots <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-d.slots }()
			d.runAndLog(ctx, a, store.ModeApply, store.TriggerSchedule)
		})
	}
}

// tickSince is the earliest start of a run that counts as the tick at now
// of sched: a run of the account that began in the second half of the
// interval before this tick was this tick's, made by a replica whose clock
// or cron ran ahead. The interval is the shorter of the gaps to the tick
// before and to the next one: with an uneven schedule (*/45, "0 9,17 * * *")
// the gap forward alone can reach back past the tick before, whose run
// (this replica's own) then counted as this tick's, and every other tick
// was skipped, forever.
func tickSince(sched cron.Schedule, now time.Time) time.Time {
	interval := sched.Next(now).Sub(now)
	if back, ok := gapBefore(sched, now); ok && back < interval {
		interval = back
	}
	return now.Add(-interval / 2)
}

// gapBefore is the gap between the last tick of sched at or before now
// (the current one) and the tick before it; false when it cannot tell.
func gapBefore(sched cron.Schedule, now time.Time) (time.Duration, bool) {
	span := 2 * max(sched.Next(now).Sub(now), time.Second)
	for range 12 {
		var ticks []time.Time
		for t := sched.Next(now.Add(-span)); !t.IsZero() && !t.After(now) && len(ticks) < 10000; t = sched.Next(t) {
			ticks = append(ticks, t)
		}
		if n := len(ticks); n >= 2 {
			return ticks[n-1].Sub(ticks[n-2]), true
		}
		span *= 2
	}
	return 0, false
}

// tickKey is the context key of a scheduled tick's start, less half its
// interval: the earliest start of a run that counts as the tick's.
type tickKey struct{}

// tickStore is an account's store for its runner: in a scheduled tick
// (tickKey), once it holds the account's lock, it gives the lock back and
// reports the run in progress when a scheduled run of the account has
// begun since the tick's time, another replica having run it. Holding the
// lock while looking makes the check exact: that replica's run has
// finished, or this one would not have the lock.
type tickStore struct{ *store.Store }

func (s tickStore) AcquireRunLock(ctx context.Context) (*store.RunLock, error) {
	lock, err := s.Store.AcquireRunLock(ctx)
	if err != nil {
		return nil, err
	}
	since, ok := ctx.Value(tickKey{}).(time.Time)
	if !ok {
		return lock, nil
	}
	last, err := s.LastStarted(ctx, store.TriggerSchedule)
	if err != nil || last == nil || last.Before(since) {
		// A failed look runs the account: a run too many is better
		// than a tick missed.
		return lock, nil
	}
	_ = lock.Release(ctx)
	return nil, store.ErrRunInProgress
}

// appNamed is the app of account name (POST /v1/runs?account=NAME);
// without a name, the only one. nil comes with what is wrong.
func (d *daemon) appNamed(name string) (*app, string) {
	if name == "" {
		if len(d.apps) == 1 {
			return d.apps[0], ""
		}
		return nil, fmt.Sprintf("several accounts are configured (%s): add ?account=NAME", appNames(d.apps))
	}
	for _, a := range d.apps {
		if a.acct.Name == name {
			return a, ""
		}
	}
	return nil, fmt.Sprintf("no account is named %q; the accounts are %s", name, appNames(d.apps))
}

func appNames(apps []*app) string {
	accounts := make([]Account, len(apps))
	for i, a := range apps {
		accounts[i] = a.acct
	}
	return accountNames(accounts)
}

// warmConns are the connections a daemon keeps open between ticks: the
// pinned lock connection and one for queries per run it runs at once, and
// one for /status.
func warmConns(concurrency int) int32 {
	return int32(2*max(1, concurrency) + 1)
}

// poolSize is the database pool of a daemon running concurrency accounts
// at once: a pinned lock connection and two for queries per run, plus
// room for /status and the HTTP trigger.
func poolSize(concurrency int) int32 {
	return int32(3*max(1, concurrency) + 4)
}
