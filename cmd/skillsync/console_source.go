package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/skillsync/skillsync/cmd/skillsync/console"
	"github.com/skillsync/skillsync/store"
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
		Source: consoleSource{d: d},
		// Applying a stored plan (`skillsync apply`) is not in this build:
		// the console shows no Apply button.
		Apply:  nil,
		Token:  d.app.cfg.Server.TriggerToken,
		Logger: d.log,
	})
}

func (s consoleSource) Accounts(ctx context.Context) ([]console.Account, error) {
	a := s.d.app
	acc := console.Account{
		Name: defaultAccount, AccountID: a.cfg.LivePerson.AccountID, Schedule: a.cfg.Schedule,
		RunInProgress: a.busy(),
	}
	if next := s.d.nextRun(); !next.IsZero() {
		acc.NextRun = &next
	}
	last, err := a.store.LastRun(ctx)
	if err != nil {
		return nil, err
	}
	if last != nil {
		r := s.run(*last)
		acc.LastRun = &r
		acc.RunInProgress = acc.RunInProgress || last.Outcome == store.OutcomeRunning
		if last.Outcome == store.OutcomeRefused {
			acc.Refused, acc.Guard = true, r.Error
		}
	}
	ok, err := a.store.LastSuccess(ctx)
	if err != nil {
		return nil, err
	}
	if ok != nil {
		r := s.run(*ok)
		acc.LastSuccess = &r
	}
	pending, err := a.store.PendingDeletes(ctx)
	if err != nil {
		return nil, err
	}
	acc.PendingDeletes = len(pending)
	return []console.Account{acc}, nil
}

// historyScan bounds the runs read to filter the history by outcome.
const historyScan = 2000

func (s consoleSource) Runs(ctx context.Context, q console.RunQuery) (console.RunPage, error) {
	if q.Account != "" && q.Account != defaultAccount {
		return console.RunPage{}, nil
	}
	// The store lists the latest runs: a page is cut from them (pages
	// past historyScan runs are not shown when filtering by outcome).
	n := (q.Page+1)*q.Size + 1
	if q.Outcome != "" {
		n = max(n, historyScan)
	}
	runs, err := s.d.app.store.ListRuns(ctx, n)
	if err != nil {
		return console.RunPage{}, err
	}
	var match []console.Run
	for _, r := range runs {
		if q.Outcome == "" || string(r.Outcome) == q.Outcome {
			match = append(match, s.run(r))
		}
	}
	from := min(q.Page*q.Size, len(match))
	to := min(from+q.Size, len(match))
	return console.RunPage{Runs: match[from:to], More: to < len(match)}, nil
}

func (s consoleSource) Run(ctx context.Context, id int64) (console.RunDetail, error) {
	r, ops, err := s.d.app.store.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return console.RunDetail{}, fmt.Errorf("run %d: %w", id, console.ErrNotFound)
	}
	if err != nil {
		return console.RunDetail{}, err
	}
	d := console.RunDetail{Run: s.run(r)}
	if err := s.notifications(ctx, &d); err != nil {
		return console.RunDetail{}, err
	}
	if len(r.Plan) > 0 {
		d.Plan = []byte(s.d.app.redact(string(r.Plan)))
		if r.Mode == store.ModePlan || r.Outcome == store.OutcomeRefused {
			d.NotApplicable = "this skillsync cannot apply stored plans (skillsync apply is not in this build)."
		}
	}
	for _, op := range ops {
		d.Journal = append(d.Journal, console.Operation{
			Seq: op.Seq, Action: op.Action, Skill: op.SkillName, SkillID: op.SkillID,
			Request: s.d.app.redact(op.Request), State: string(op.State), HTTPStatus: op.HTTPStatus,
			Error: s.d.app.redact(op.Error), UpdatedAt: op.UpdatedAt,
		})
	}
	return d, nil
}

// notifications adds the messages sent (or queued) about the run.
func (s consoleSource) notifications(ctx context.Context, d *console.RunDetail) error {
	ds, err := s.d.app.store.RunDeliveries(ctx, d.ID)
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
			Error: s.d.app.redact(n.LastError), At: at,
		})
	}
	if len(ds) == 0 && !s.d.app.cfg.Notify.Enabled() {
		d.NoNotifications = "No notification sink is configured (notify.sinks)."
	}
	return nil
}

func (s consoleSource) PendingDeletes(ctx context.Context) ([]console.PendingDelete, error) {
	pending, err := s.d.app.store.PendingDeletes(ctx)
	if err != nil {
		return nil, err
	}
	grace := s.d.app.cfg.Sync.DeleteAfterRuns
	out := make([]console.PendingDelete, 0, len(pending))
	for _, p := range pending {
		out = append(out, console.PendingDelete{
			Account: defaultAccount, Skill: p.SkillName, SkillID: p.SkillID,
			MissingRuns: p.ConsecutiveMissingRuns, FirstMissingRun: p.FirstMissingRun, Since: p.UpdatedAt,
			Reason: pendingReason(p, grace),
		})
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
	owned, err := s.d.app.store.OwnedSkills(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.OwnedSkill, 0, len(owned))
	for _, o := range owned {
		out = append(out, console.OwnedSkill{Account: defaultAccount, Name: o.Name, SkillID: o.SkillID, Rule: o.RuleID, Key: o.RuleKey,
			Adopted: o.Adopted, CreatedByRun: o.CreatedByRun, CreatedAt: o.CreatedAt})
	}
	return out, nil
}

// run is a run row for the console, its error redacted.
func (s consoleSource) run(r store.Run) console.Run {
	return console.Run{
		ID: r.ID, Account: defaultAccount, Trigger: string(r.Trigger), Mode: string(r.Mode), Outcome: string(r.Outcome),
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Counts: r.Counts, Error: s.d.app.redact(r.Error),
	}
}
