package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	gosync "sync"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// ErrRunInProgress is returned by RunOnce when another run holds the
// in-process guard or the Postgres run lock. Such a run is recorded
// nowhere: it did not happen.
var ErrRunInProgress = store.ErrRunInProgress

// DefaultBatchSize is the batch size when Deps.BatchSize is unset.
const DefaultBatchSize = 50

// Deps are the adapters a Runner drives.
type Deps struct {
	Source RecordSource
	Skills SkillsAPI
	// Users is needed only when assignments are enabled.
	Users  UsersAPI
	Store  RunStore
	Logger *slog.Logger
	// BatchSize is the number of items per create, update or delete call
	// (liveperson.batch_size).
	BatchSize int
	Now       func() time.Time
}

// Config is the part of the configuration the engine reads.
type Config struct {
	Skills      SkillsConfig
	Sync        SyncConfig
	Assignments AssignmentsConfig
}

// Result is what one run did.
type Result struct {
	Run store.Run
	// Plan is nil when the run ended before planning (refused, failed).
	Plan *Plan
	// Refusal says why a guard refused the run ("" otherwise).
	Refusal string
}

// Runner runs the sync loop. Cron, the CLI, the HTTP trigger and the demo
// all call the same RunOnce, under the same guard and lock.
type Runner struct {
	deps  Deps
	cfg   Config
	rules *Rules
	mu    gosync.Mutex
}

// NewRunner checks the configuration and compiles the rules.
func NewRunner(deps Deps, cfg Config) (*Runner, error) {
	if deps.Source == nil || deps.Skills == nil || deps.Store == nil {
		return nil, errors.New("sync: Source, Skills and Store are required")
	}
	cfg.Sync = cfg.Sync.WithDefaults()
	cfg.Assignments = cfg.Assignments.WithDefaults()
	var errs []error
	errs = append(errs, cfg.Sync.Validate()...)
	errs = append(errs, cfg.Assignments.Validate()...)
	if cfg.Assignments.Enabled && deps.Users == nil {
		errs = append(errs, errors.New("assignments.enabled: needs the LivePerson Users API"))
	}
	rules, err := CompileRules(cfg.Skills)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	deps.Logger = cmp.Or(deps.Logger, slog.New(slog.DiscardHandler))
	deps.BatchSize = cmp.Or(deps.BatchSize, DefaultBatchSize)
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Runner{deps: deps, cfg: cfg, rules: rules}, nil
}

// RunOnce performs one run: lock, read the HR source, check its health,
// read the account (one skills GET), plan, and in apply mode apply. The run
// is recorded with its outcome, counts and plan: a dry run (plan mode) ends
// planned or no_changes, an apply run applied, partial or no_changes; either
// may end refused, failed or interrupted. A refused, partial or interrupted
// run returns a nil error: its outcome says what happened.
func (r *Runner) RunOnce(ctx context.Context, mode store.Mode, trigger store.Trigger) (*Result, error) {
	if !r.mu.TryLock() {
		return nil, ErrRunInProgress
	}
	defer r.mu.Unlock()
	lock, err := r.deps.Store.AcquireRunLock(ctx)
	if err != nil {
		if errors.Is(err, store.ErrRunInProgress) {
			return nil, ErrRunInProgress
		}
		return nil, fmt.Errorf("acquire run lock: %w", err)
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			r.deps.Logger.WarnContext(ctx, "release run lock", "error", err)
		}
	}()
	// Holding the lock, any run still recorded as running belongs to a
	// process that died (or lost the database): close it before this run
	// begins, so that its journal counts as an earlier run's.
	if n, err := r.deps.Store.MarkInterrupted(ctx); err != nil {
		return nil, fmt.Errorf("close runs left running: %w", err)
	} else if n > 0 {
		r.deps.Logger.WarnContext(ctx, "runs left unfinished by an earlier process are now marked interrupted", "runs", n)
	}
	start := r.deps.Now()
	run, err := r.deps.Store.BeginRun(ctx, trigger, mode)
	if err != nil {
		return nil, fmt.Errorf("begin run: %w", err)
	}
	// The run id goes on every line of the run: on the engine's through
	// its logger, on those of the adapters it calls (which log with the
	// context) through LogHandler.
	ctx = WithRunID(ctx, run.ID)
	rc := &runContext{Runner: r, run: run, start: start,
		log: r.deps.Logger.With(runIDAttr, run.ID)}
	rc.log.InfoContext(ctx, "run started", "mode", mode, "trigger", trigger)
	return rc.execute(ctx, mode)
}

// runContext is the state of one run.
type runContext struct {
	*Runner
	run    store.Run
	start  time.Time
	log    *slog.Logger
	counts applyCounts
}

func (rc *runContext) execute(ctx context.Context, mode store.Mode) (*Result, error) {
	res := &Result{}
	snap, err := rc.deps.Source.Read(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read HR source: %w", err))
	}
	last, err := rc.deps.Store.LastAcceptedSnapshot(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rc.fail(ctx, res, nil, fmt.Errorf("read last accepted snapshot: %w", err))
	}
	health := CheckHealth(snap, last, rc.cfg.Sync)
	snapID, err := rc.deps.Store.RecordSnapshot(ctx, store.Snapshot{
		RunID: rc.run.ID, Records: health.Records, Active: health.Active, ValueCounts: snap.Stats.ValueCounts,
		HeaderHash: snap.Stats.HeaderHash, Accepted: health.Refusal == "", Reason: health.Refusal,
	})
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("record snapshot: %w", err))
	}
	rc.run.SnapshotID = &snapID
	if health.Refusal != "" {
		res.Refusal = health.Refusal
		rc.log.Warn("run refused by the source-health guard", "records", health.Records, "active", health.Active,
			"previous_active", health.PreviousActive, "drop_percent", health.DropPercent, "reason", health.Refusal)
		rc.run.Error = health.Refusal
		return rc.finish(ctx, res, store.OutcomeRefused, nil)
	}

	desired, err := rc.rules.Desired(snap)
	if err != nil {
		return rc.fail(ctx, res, nil, err)
	}
	for _, p := range desired.Problems {
		rc.log.Warn("record skipped by a rule", "record", p.RecordID, "origin", p.Origin, "rule", p.RuleID, "problem", p.Msg)
	}
	current, err := rc.deps.Skills.ListSkills(ctx, true)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read LivePerson skills: %w", err))
	}
	registry, err := rc.deps.Store.OwnedSkills(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read ownership registry: %w", err))
	}
	pending, err := rc.deps.Store.PendingDeletes(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read pending deletes: %w", err))
	}
	unconfirmed, err := rc.deps.Store.UnconfirmedCreates(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read unanswered creates of earlier runs: %w", err))
	}
	written, err := rc.deps.Store.SkillStates(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read written skill state: %w", err))
	}
	if written == nil {
		// nil tells the planner the state is unknown; an empty map says
		// nothing was written yet.
		written = map[int64]SkillState{}
	}
	var users []liveperson.User
	if rc.cfg.Assignments.Enabled {
		if users, err = rc.deps.Users.ListUsers(ctx); err != nil {
			return rc.fail(ctx, res, nil, fmt.Errorf("read LivePerson users: %w", err))
		}
	}
	in := PlanInput{
		Desired: desired.Skills, Current: current, Registry: registry, Pending: pending, Written: written,
		Policy: rc.cfg.Sync.Policy, AdoptExisting: rc.cfg.Skills.AdoptExisting,
		DeleteAfterRuns: rc.cfg.Sync.DeleteAfterRuns, RunID: rc.run.ID, Problems: desired.Problems,
		Unconfirmed: unconfirmed,
	}
	budget := DeleteBudget(rc.cfg.Sync, activeOwned(registry))
	plan := rc.plan(in, budget, snap, users)
	res.Plan = plan
	if mode == store.ModePlan {
		// A dry run never ends applied: it changed nothing.
		outcome := store.OutcomeNoChanges
		if plan.HasChanges() {
			outcome = store.OutcomePlanned
		}
		return rc.finish(ctx, res, outcome, nil)
	}
	return rc.apply(ctx, res, in, budget, snap, users)
}

// plan builds the plan for in, with the assignments section when enabled,
// and holds back deletes of referenced skills and beyond the budget.
func (rc *runContext) plan(in PlanInput, budget int, snap *hrsource.Snapshot, users []liveperson.User) *Plan {
	p := BuildPlan(in)
	if rc.cfg.Assignments.Enabled {
		p.Assignments = rc.planAssignments(p, in, snap, users)
	}
	// Referenced skills wait first, so that they do not use up the budget.
	if n := HoldReferencedDeletes(p, in.Current, users); n > 0 {
		rc.log.Warn("deletes held back: skills still referenced", "held_back", n)
	}
	if n := ApplyDeleteBudget(p, budget); n > 0 {
		rc.log.Warn("delete budget reached; deletes held back", "held_back", n, "budget", budget)
	}
	return p
}

func activeOwned(registry []store.OwnedSkill) int {
	n := 0
	for _, r := range registry {
		if r.ReleasedAt == nil {
			n++
		}
	}
	return n
}

func (rc *runContext) apply(ctx context.Context, res *Result, in PlanInput, budget int, snap *hrsource.Snapshot, users []liveperson.User) (*Result, error) {
	plan := res.Plan
	ap := newApplier(rc.deps.Skills, rc.deps.Store, rc.log, rc.run.ID, rc.deps.BatchSize, &rc.counts)
	ap.reset(in.Current, in.Registry)
	var err error
	for attempt := 0; ; attempt++ {
		if rc.cfg.Assignments.Enabled {
			ap.assign = rc.assignPhase(ap, plan)
		}
		err = ap.apply(ctx, plan)
		if !errors.Is(err, errReplan) {
			break
		}
		// The first pass settled the earlier runs' creates; the registry
		// read below has what it took over.
		in.Unconfirmed = nil
		if attempt >= rc.cfg.Sync.MaxConflictRetries {
			err = fmt.Errorf("LivePerson kept reporting revision conflicts: gave up after %d re-plans (sync.max_conflict_retries); someone else is changing the account's skills, the next run continues: %w",
				attempt, err)
			break
		}
		rc.log.Warn("revision conflict; re-reading the account and re-planning what is left", "attempt", attempt+1, "error", err)
		if in.Current, err = rc.deps.Skills.ListSkills(ctx, true); err != nil {
			err = fmt.Errorf("re-read skills after a conflict: %w", err)
			break
		}
		if in.Registry, err = rc.deps.Store.OwnedSkills(ctx); err != nil {
			err = fmt.Errorf("re-read ownership registry: %w", err)
			break
		}
		if in.Written, err = rc.deps.Store.SkillStates(ctx); err != nil {
			err = fmt.Errorf("re-read written skill state: %w", err)
			break
		}
		if in.Written == nil {
			in.Written = map[int64]SkillState{}
		}
		if rc.cfg.Assignments.Enabled {
			if users, err = rc.deps.Users.ListUsers(ctx); err != nil {
				err = fmt.Errorf("re-read users after a conflict: %w", err)
				break
			}
		}
		ap.reset(in.Current, in.Registry)
		plan = rc.plan(in, max(budget-rc.counts.Deleted, 0), snap, users)
	}
	switch {
	case err != nil && interrupted(ctx):
		rc.log.Warn("run interrupted between batches", "cause", context.Cause(ctx))
		rc.run.Error = "interrupted: " + context.Cause(ctx).Error()
		return rc.finish(ctx, res, store.OutcomeInterrupted, nil)
	case err != nil:
		return rc.fail(ctx, res, plan, err)
	}
	if err := rc.deps.Store.SetPendingDeletes(ctx, nextPending(plan, rc.counts.FailedDeletes)); err != nil {
		return rc.fail(ctx, res, plan, fmt.Errorf("store pending deletes: %w", err))
	}
	c := rc.counts
	switch {
	case c.Failed > 0:
		rc.run.Error = fmt.Sprintf("%d operations failed; see the run's journal", c.Failed)
		return rc.finish(ctx, res, store.OutcomePartial, nil)
	case c.Created+c.Updated+c.Deleted+c.Assigned+c.Unassigned+c.TakenOver > 0 || len(plan.RegistryFixes)+len(plan.Forget) > 0:
		return rc.finish(ctx, res, store.OutcomeApplied, nil)
	}
	return rc.finish(ctx, res, store.OutcomeNoChanges, nil)
}

// nextPending is the delete-grace state after an apply: the plan's pending
// deletes plus deletes LivePerson refused (tried again next run).
func nextPending(p *Plan, failed []int64) []store.PendingDelete {
	out := p.NextPending()
	for _, c := range p.Changes {
		if c.Action == ActionDelete && containsID(failed, c.SkillID) {
			out = append(out, store.PendingDelete{SkillID: c.SkillID, SkillName: c.Skill,
				FirstMissingRun: c.FirstMissingRun, ConsecutiveMissingRuns: c.MissingRuns})
		}
	}
	if out == nil {
		out = []store.PendingDelete{}
	}
	return out
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// interrupted reports whether the run's own context was cancelled or ran
// out of time. A step that fails then failed because of it, whatever its
// error says: adapters wrap cancellation in their own words (a transport
// error, a cause given to the cancel func, a read cut short), and a run
// stopped by shutdown must read interrupted, not failed.
func interrupted(ctx context.Context) bool {
	return ctx.Err() != nil
}

func (rc *runContext) fail(ctx context.Context, res *Result, plan *Plan, err error) (*Result, error) {
	if plan != nil {
		res.Plan = plan
	}
	if interrupted(ctx) {
		// Shutdown while reading: not an error, nothing was written.
		rc.log.Warn("run interrupted", "cause", context.Cause(ctx), "error", err)
		rc.run.Error = "interrupted: " + err.Error()
		return rc.finish(ctx, res, store.OutcomeInterrupted, nil)
	}
	rc.run.Error = err.Error()
	rc.log.Error("run failed", "error", err)
	if _, ferr := rc.finish(ctx, res, store.OutcomeFailed, nil); ferr != nil {
		return res, errors.Join(err, ferr)
	}
	return res, err
}

// finish records the run (even when ctx was cancelled) and logs the one
// summary line.
func (rc *runContext) finish(ctx context.Context, res *Result, outcome store.Outcome, _ error) (*Result, error) {
	now := rc.deps.Now()
	run := rc.run
	run.Outcome = outcome
	run.FinishedAt = &now
	if res.Plan != nil {
		sum := res.Plan.Summary()
		run.Counts = store.Counts{
			Create: sum.Create, Update: sum.Update, Delete: sum.Delete, PendingDelete: sum.PendingDelete,
			Unchanged: sum.Unchanged, UnmanagedConflict: sum.UnmanagedConflict, Assign: sum.Assign, Unassign: sum.Unassign,
		}
		if run.Mode == store.ModeApply {
			c := rc.counts
			run.Counts.Create, run.Counts.Update, run.Counts.Delete = c.Created, c.Updated, c.Deleted
			run.Counts.Assign, run.Counts.Unassign, run.Counts.Failed = c.Assigned, c.Unassigned, c.Failed
		}
		b, err := json.Marshal(res.Plan)
		if err != nil {
			return res, fmt.Errorf("encode plan: %w", err)
		}
		run.Plan = b
	}
	res.Run = run
	if err := rc.deps.Store.FinishRun(context.WithoutCancel(ctx), run); err != nil {
		return res, fmt.Errorf("record run %d: %w", run.ID, err)
	}
	rc.log.Info("run finished", "outcome", outcome, "mode", run.Mode,
		"created", run.Counts.Create, "updated", run.Counts.Update, "deleted", run.Counts.Delete,
		"pending", run.Counts.PendingDelete, "conflicts", run.Counts.UnmanagedConflict,
		"assigned", run.Counts.Assign, "unassigned", run.Counts.Unassign, "failed", run.Counts.Failed,
		"duration", rc.deps.Now().Sub(rc.start))
	return res, nil
}
