package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skillsync/skillsync/cmd/skillsync/console"
	"github.com/skillsync/skillsync/internal/jsonscan"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// consoleSource feeds the web console from the store, hiding the
// configured secrets in every text it hands over.
type consoleSource struct {
	d *daemon
}

var _ console.Source = consoleSource{}

// newConsole is the console of the daemon: off (404) without
// server.trigger_token.
func (d *daemon) newConsole() *console.Console {
	return console.New(console.Options{
		Source:     consoleSource{d: d},
		Apply:      consoleSource{d: d}.apply,
		Token:      d.app.cfg.Server.TriggerToken,
		UserHeader: d.app.cfg.Server.UserHeader,
		Outcomes:   runOutcomes(),
		Guesses:    d.guesses,
		Logger:     d.log,
	})
}

// runOutcomes are the outcomes a run can have, for the history's filter.
func runOutcomes() []string {
	var out []string
	for _, m := range store.Modes() {
		for _, o := range m.Outcomes() {
			if !slices.Contains(out, string(o)) {
				out = append(out, string(o))
			}
		}
	}
	return append(out, string(store.OutcomeRunning))
}

// apply is the console's "Apply this plan": the approval of run id's
// stored plan, by the app of the account that holds it, as `skillsync
// apply ID --yes` and POST /v1/runs/{id}/apply do it. The run is the
// daemon's (d.runCtx): it stops with the daemon's other runs, not when the
// browser goes away.
func (s consoleSource) apply(ctx context.Context, id int64, by string) (console.Run, error) {
	select {
	case <-s.d.shutdown:
		return console.Run{}, errors.New("the daemon is shutting down")
	default:
	}
	ca, _, _, err := s.find(ctx, id)
	if err != nil {
		return console.Run{}, err
	}
	res, err := ca.app.approve(s.d.runCtx, id, by)
	switch {
	case errors.Is(err, sync.ErrNoPlan):
		return console.Run{}, fmt.Errorf("%s: %w", ca.app.redact(err.Error()), console.ErrNotFound)
	case err != nil && res == nil:
		// Stale (the reason), a run in progress, or an internal error.
		return console.Run{}, errors.New(ca.app.redact(err.Error()))
	}
	// A run that stopped partway is shown on its own page.
	return ca.run(res.Run), nil
}

// consoleAccount is one account as the console reads it: its name, its
// LivePerson account id, its wired app (whose store holds its state) and
// its next scheduled run.
type consoleAccount struct {
	name, id string
	app      *app
	next     func() time.Time
}

// accounts are the accounts the console shows, in configuration order.
func (s consoleSource) accounts() []consoleAccount {
	apps := s.d.accountApps()
	out := make([]consoleAccount, 0, len(apps))
	for _, a := range apps {
		out = append(out, consoleAccount{name: a.acct.Name, id: a.acct.ID(), app: a, next: func() time.Time { return s.d.nextRunOf(a) }})
	}
	return out
}

func (s consoleSource) Accounts(ctx context.Context) ([]console.Account, error) {
	var out []console.Account
	for _, ca := range s.accounts() {
		acc, err := ca.status(ctx)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ca.name, err)
		}
		out = append(out, acc)
	}
	return out, nil
}

// status is the account's overview.
func (ca consoleAccount) status(ctx context.Context) (console.Account, error) {
	a := ca.app
	acc := console.Account{Name: ca.name, AccountID: ca.id, Schedule: cmp.Or(a.acct.Schedule, a.cfg.Schedule), RunInProgress: a.busy()}
	if next := ca.next(); !next.IsZero() {
		acc.NextRun = &next
	}
	last, err := a.store.LastRun(ctx)
	if err != nil {
		return acc, err
	}
	if last != nil {
		r := ca.run(*last)
		acc.LastRun = &r
		acc.RunInProgress = acc.RunInProgress || last.Outcome == store.OutcomeRunning
		if last.Outcome == store.OutcomeRefused {
			acc.Refused, acc.Guard = true, r.Error
		}
	}
	ok, err := a.store.LastSuccess(ctx)
	if err != nil {
		return acc, err
	}
	if ok != nil {
		r := ca.run(*ok)
		acc.LastSuccess = &r
	}
	pending, err := a.store.PendingDeletes(ctx)
	if err != nil {
		return acc, err
	}
	acc.PendingDeletes = len(pending)
	return acc, nil
}

// historyScan bounds the runs read per account to filter the history by
// outcome.
const historyScan = 2000

func (s consoleSource) Runs(ctx context.Context, q console.RunQuery) (console.RunPage, error) {
	// The store lists each account's latest runs: a page is cut from
	// them, newest first (pages past historyScan runs are not shown when
	// filtering by outcome).
	n := (q.Page+1)*q.Size + 1
	if q.Outcome != "" {
		n = max(n, historyScan)
	}
	var match []console.Run
	for _, ca := range s.accounts() {
		if q.Account != "" && q.Account != ca.name {
			continue
		}
		runs, err := ca.app.store.ListRuns(ctx, n)
		if err != nil {
			return console.RunPage{}, fmt.Errorf("account %s: %w", ca.name, err)
		}
		for _, r := range runs {
			if q.Outcome == "" || string(r.Outcome) == q.Outcome {
				match = append(match, ca.run(r))
			}
		}
	}
	slices.SortStableFunc(match, func(a, b console.Run) int { return cmp.Compare(b.ID, a.ID) })
	from := min(q.Page*q.Size, len(match))
	to := min(from+q.Size, len(match))
	return console.RunPage{Runs: match[from:to], More: to < len(match)}, nil
}

// find returns the run and its journal from the account that holds it.
func (s consoleSource) find(ctx context.Context, id int64) (consoleAccount, store.Run, []store.Operation, error) {
	for _, ca := range s.accounts() {
		r, ops, err := ca.app.store.GetRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		return ca, r, ops, err
	}
	return consoleAccount{}, store.Run{}, nil, fmt.Errorf("run %d: %w", id, console.ErrNotFound)
}

func (s consoleSource) Run(ctx context.Context, id int64) (console.RunDetail, error) {
	ca, r, ops, err := s.find(ctx, id)
	if err != nil {
		return console.RunDetail{}, err
	}
	redact := ca.app.redact
	d := console.RunDetail{Run: ca.run(r)}
	if len(r.Plan) > 0 {
		d.Plan = []byte(redact(string(unescapeHTML(r.Plan))))
		if err := ca.applicable(ctx, &d); err != nil {
			return console.RunDetail{}, err
		}
	}
	for _, op := range ops {
		d.Journal = append(d.Journal, console.Operation{
			Seq: op.Seq, Action: op.Action, Skill: op.SkillName, SkillID: op.SkillID,
			Request: redact(op.Request), State: string(op.State), HTTPStatus: op.HTTPStatus,
			Error: redact(op.Error), UpdatedAt: op.UpdatedAt,
		})
	}
	if err := ca.notifications(ctx, &d); err != nil {
		return console.RunDetail{}, err
	}
	return d, nil
}

// applicable says whether the run's stored plan can be approved, as far as
// the store knows: stored (dry and refused runs), not applied, not older
// than sync.plan_max_age. The approval checks LivePerson and HR again.
func (ca consoleAccount) applicable(ctx context.Context, d *console.RunDetail) error {
	sp, err := storedPlanOf(ctx, ca.app.store, d.ID)
	if err != nil || sp == nil {
		return err // an apply run's plan is not one to approve
	}
	maxAge := ca.app.acct.Sync.PlanMaxAge
	switch {
	case sp.AppliedByRun != nil:
		d.NotApplicable = fmt.Sprintf("it was applied by run %d.", *sp.AppliedByRun)
	case maxAge > 0 && time.Since(sp.CreatedAt) > maxAge:
		d.NotApplicable = fmt.Sprintf("it is older than sync.plan_max_age (%s); run skillsync plan again.", maxAge)
	default:
		d.Applicable = true
	}
	return nil
}

// notifications adds the messages sent (or queued) about the run.
func (ca consoleAccount) notifications(ctx context.Context, d *console.RunDetail) error {
	ds, err := ca.app.store.RunDeliveries(ctx, d.ID)
	if err != nil {
		return err
	}
	for _, n := range ds {
		at := n.UpdatedAt
		if n.SentAt != nil {
			at = *n.SentAt
		}
		d.Notifications = append(d.Notifications, console.Notification{
			Sink: n.Sink, Event: n.Event, Status: string(n.Status), Attempts: n.Attempts,
			Error: ca.app.redact(n.LastError), At: at,
		})
	}
	if len(ds) == 0 && !ca.app.cfg.Notify.Enabled() {
		d.NoNotifications = "No notification sink is configured (notify.sinks)."
	}
	return nil
}

func (s consoleSource) PendingDeletes(ctx context.Context) ([]console.PendingDelete, error) {
	var out []console.PendingDelete
	for _, ca := range s.accounts() {
		pending, err := ca.app.store.PendingDeletes(ctx)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ca.name, err)
		}
		grace := ca.app.acct.Sync.DeleteAfterRuns
		for _, p := range pending {
			out = append(out, console.PendingDelete{
				Account: ca.name, Skill: p.SkillName, SkillID: p.SkillID,
				MissingRuns: p.ConsecutiveMissingRuns, FirstMissingRun: p.FirstMissingRun, Since: p.UpdatedAt,
				Reason: pendingReason(p, grace),
			})
		}
	}
	return out, nil
}

// pendingReason says why a skill waits and what deletes it.
func pendingReason(p store.PendingDelete, grace int) string {
	if p.ConsecutiveMissingRuns >= grace {
		return fmt.Sprintf("no rule has produced it in %d consecutive apply runs (since run %d): the grace (sync.delete_after_runs: %d) is over, "+
			"and it waits for the delete budget (sync.max_deletes, sync.max_delete_percent) of a coming run", p.ConsecutiveMissingRuns, p.FirstMissingRun, grace)
	}
	return fmt.Sprintf("no rule has produced it in %d of the %d consecutive apply runs (sync.delete_after_runs) before it is deleted, since run %d; "+
		"it stays if a rule produces it again", p.ConsecutiveMissingRuns, grace, p.FirstMissingRun)
}

func (s consoleSource) OwnedSkills(ctx context.Context) ([]console.OwnedSkill, error) {
	var out []console.OwnedSkill
	for _, ca := range s.accounts() {
		owned, err := ca.app.store.OwnedSkills(ctx)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", ca.name, err)
		}
		for _, o := range owned {
			out = append(out, console.OwnedSkill{Account: ca.name, Name: o.Name, SkillID: o.SkillID, Rule: o.RuleID, Key: o.RuleKey,
				Adopted: o.Adopted, CreatedByRun: o.CreatedByRun, CreatedAt: o.CreatedAt})
		}
	}
	return out, nil
}

// run is a run row for the console, its error redacted.
func (ca consoleAccount) run(r store.Run) console.Run {
	return console.Run{
		ID: r.ID, Account: ca.name, Trigger: string(r.Trigger), Mode: string(r.Mode), Outcome: string(r.Outcome),
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Counts: consoleCounts(r.Counts), Error: ca.app.redact(r.Error),
		ApprovedRun: ptrValue(r.ApprovedRun), ApprovedBy: r.ApprovedBy,
	}
}

func consoleCounts(c store.Counts) console.Counts {
	return console.Counts{Create: c.Create, Update: c.Update, Delete: c.Delete, PendingDelete: c.PendingDelete,
		Unchanged: c.Unchanged, UnmanagedConflict: c.UnmanagedConflict, Assign: c.Assign, Unassign: c.Unassign, Failed: c.Failed}
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// unescapeHTML undoes, in the JSON text b, the escapes encoding/json makes
// of <, > and & in strings (\u003c, \u003e, \u0026): a stored plan is the
// JSON skillsync wrote, and the console's last look for secrets matches
// them in its text, where a secret holding one of those characters would
// otherwise hide behind the escape. JSON needs no escape for them, so the
// document stays the same. Only real escapes are undone: in \\u003c (an
// escaped backslash, then the text "u003c") nothing is. b is returned
// itself when it has none.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	return jsonscan.ReplaceEscapes(b, func(hex []byte) (string, bool) {
		switch string(hex) {
		case "003c", "003C":
			return "<", true
		case "003e", "003E":
			return ">", true
		case "0026":
			return "&", true
		}
		return "", false
	})
}
