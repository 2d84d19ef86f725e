package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	gosync "sync"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// claimLegacy gives the state written before skillsync kept state per
// account (store.LegacyState) to its account: the one named (migrate
// --legacy-account), else the only one configured. With several accounts
// configured and none named it refuses, saying how to choose: no account
// may work while state that may be its own is nobody's.
func claimLegacy(ctx context.Context, st *store.Store, cfg *Config, name string, log *slog.Logger) error {
	legacy, err := st.LegacyState(ctx)
	if err != nil {
		return err
	}
	accounts := cfg.AccountList()
	var target Account
	switch {
	case name != "":
		a, ok := cfg.accountByName(name)
		if !ok {
			return fmt.Errorf("--legacy-account %s: no such account; the configuration has %s", name, accountNames(accounts))
		}
		target = a
	case legacy.Empty():
		return nil
	case len(accounts) == 1:
		target = accounts[0]
	default:
		return fmt.Errorf("the database holds state written before skillsync kept state per account (%s), "+
			"and the configuration has several accounts (%s): give it to the account it belongs to with "+
			"`skillsync migrate --legacy-account NAME`; until then no command works on the database",
			legacy, accountNames(accounts))
	}
	if legacy.Empty() {
		return nil
	}
	moved, err := st.ClaimLegacyState(ctx, target.ID())
	if err != nil {
		return err
	}
	log.Info("state written before accounts now belongs to the account", "account", target.Name, "account_id", target.ID(),
		"runs", moved.Runs, "owned_skills", moved.OwnedSkills, "snapshots", moved.Snapshots, "pending_deletes", moved.PendingDeletes)
	return nil
}

// accountResult is one account's run of plan or sync.
type accountResult struct {
	acct *Account // nil when no account was reached (the configuration failed)
	res  *sync.Result
	err  error
}

// runAccounts runs once in mode for the account chosen with --account, or
// for every account in turn: one account's failure does not stop the
// next. The accounts share one database pool. Each account's notifications
// are sent in the background once its run ended; finish waits for them
// (at most notifyFlushTimeout each), then closes the pool: the caller
// prints the results first, so that a slow sink never holds the plan back.
func (c *cli) runAccounts(ctx context.Context, mode store.Mode) (results []accountResult, finish func()) {
	nothing := func() {}
	cfg, log, err := c.load()
	if err != nil {
		return []accountResult{{err: err}}, nothing
	}
	accounts, err := cfg.selectAccounts(c.account)
	if err != nil {
		return []accountResult{{err: err}}, nothing
	}
	root, err := openStore(ctx, cfg.Database.URL, store.Options{Logger: log, NameKey: sync.NameKey})
	if err != nil {
		return []accountResult{{err: err}}, nothing
	}
	if err := claimLegacy(ctx, root, cfg, "", log); err != nil {
		root.Close()
		return []accountResult{{err: err}}, nothing
	}
	m := newMetrics()
	var sends gosync.WaitGroup
	out := make([]accountResult, len(accounts))
	for i := range accounts {
		acct := &accounts[i]
		out[i] = accountResult{acct: acct}
		a, err := newAppWith(ctx, cfg, log, appOptions{env: c.env, store: root, account: acct, metrics: m, sharedStore: true})
		if err != nil {
			out[i].err = err
			continue
		}
		res, err := a.runOnce(ctx, mode, store.TriggerManual)
		out[i].res, out[i].err = res, err
		sends.Go(func() {
			a.flushNotifications(ctx, res)
			a.close()
		})
	}
	return out, func() {
		sends.Wait()
		root.Close()
	}
}

// exitPrecedence orders exit codes for several accounts (design §7.1): the
// process exits with the first of 1, 3, 4, 2, 0 that any account produced.
var exitPrecedence = []int{exitError, exitRefused, exitStale, exitChanges, exitOK}

// exitCode is the exit status err stands for.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return exitError
}

// worstExit returns the error whose exit status comes first in
// exitPrecedence (the earliest of equals), nil when all are nil.
func worstExit(errs []error) error {
	best, rank := error(nil), len(exitPrecedence)
	for _, err := range errs {
		if err == nil {
			continue
		}
		for r, code := range exitPrecedence {
			if code == exitCode(err) && r < rank {
				best, rank = err, r
			}
		}
	}
	return best
}
