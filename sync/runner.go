package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// ErrRunInProgress is returned by RunOnce when another run holds the
// in-process run slot or the Postgres run lock. Such a run is recorded
// nowhere: it did not happen.
var ErrRunInProgress = store.ErrRunInProgress

// DefaultBatchSize is the batch size when Deps.BatchSize is unset.
const DefaultBatchSize = 50

// Deps are the adapters a Runner drives.
type Deps struct {
	Source RecordSource
	Skills SkillsAPI
	// Users is needed when assignments are enabled. Without assignments
	// it is only read, before deletes, so that a skill an agent holds is
	// not deleted; credentials that may not read users (401/403) hold the
	// deletes as pending, with a plan warning, and nil skips the check.
	Users  UsersAPI
	Store  RunStore
	Logger *slog.Logger
	// BatchSize is the number of items per create, update or delete call
	// (liveperson.batch_size).
	BatchSize int
	Now       func() time.Time
	// Redact hides secrets (the configured credentials) in a text. The
	// runner applies it to every text it stores (the run's error, journal
	// errors, the refusal, the plan's problems, warnings, notes and
	// reasons) and to the lines it logs: an adapter's error may quote a
	// server that repeated a credential back. The error RunOnce returns
	// is the original, for the caller to print through its own
	// redaction. nil leaves texts as they are.
	Redact func(string) string
	// OnRunEnd, when set, is called once for every run the runner records (every outcome:
	// applied, partial, no_changes, planned, refused, failed, interrupted), after the run
	// is stored, with a context that is not cancelled by shutdown. It must not block for long.
	OnRunEnd func(ctx context.Context, res *Result)
	// Preflight, when set, is asked once the run slot and the run lock
	// are taken, before anything is read or written: an error refuses the
	// run, which is then recorded nowhere (cmd/skillsync refuses a
	// database a newer skillsync has migrated). A run that does not get
	// the lock (another process holds it) is not asked about.
	Preflight func(ctx context.Context, mode store.Mode, trigger store.Trigger) error
	// Rules, when set, are the configuration's rules as Config.Check
	// compiled them, so that a caller that needed them first (for the HR
	// columns they read) does not compile them twice; nil: NewRunner
	// compiles them.
	Rules *Rules
}

// Config is the part of the configuration the engine reads.
type Config struct {
	Skills      SkillsConfig
	Sync        SyncConfig
	Assignments AssignmentsConfig
	// Location is the zone of the day records are in force on (the
	// config's timezone; nil: UTC).
	Location *time.Location
}

// Check is the one place the engine's configuration is defaulted and
// validated and its rules compiled: it fills what has no meaning when
// empty (sync.policy, assignments.match; numbers have their defaults
// before decoding, see DefaultSyncConfig), checks the sync and
// assignments sections and the dated keys (validateDated) and compiles
// the rules. It returns the
// configuration as the engine runs it, the compiled rules (nil when they
// do not compile) and every problem, each naming its key (the rules'
// problems as one *ConfigError).
func (c Config) Check() (Config, *Rules, []error) {
	return c.check(true)
}

func (c Config) check(compile bool) (Config, *Rules, []error) {
	c.Sync = c.Sync.WithDefaults()
	c.Assignments = c.Assignments.WithDefaults()
	var errs []error
	errs = append(errs, c.Sync.Validate()...)
	errs = append(errs, c.Assignments.Validate()...)
	errs = append(errs, validateDated(c)...)
	var rules *Rules
	if compile {
		var err error
		if rules, err = CompileRules(c.Skills); err != nil {
			errs = append(errs, err)
		}
	}
	return c, rules, errs
}

// Result is what one run did.
type Result struct {
	Run store.Run
	// Plan is nil when the run ended before planning (refused, failed).
	Plan *Plan
	// Refusal says why a guard refused the run ("" otherwise).
	Refusal string
}

// Runner runs the sync loop, and owns the run lifecycle (lifecycle.go).
// Cron, the CLI, the HTTP trigger and the demo all start runs through it
// (RunOnce, or TryClaim and Claim.Run), under the same slot and lock.
type Runner struct {
	deps  Deps
	cfg   Config
	rules *Rules

	// slot is this process's run slot (capacity 1): the one in-process
	// guard. Shutdown takes it for good.
	slot chan struct{}
	// stopped is set by Shutdown: no run starts after it.
	stopped atomic.Bool

	mu gosync.Mutex
	// current is the run of this process begun and not yet recorded.
	current *store.Run
	// closing is closed once closeCurrent has recorded run closed; the
	// run's own record waits for it (settle).
	closing chan struct{}
	closed  int64
}

// NewRunner checks the configuration (Config.Check) and compiles the rules
// unless deps.Rules has them.
func NewRunner(deps Deps, cfg Config) (*Runner, error) {
	if deps.Source == nil || deps.Skills == nil || deps.Store == nil {
		return nil, errors.New("sync: Source, Skills and Store are required")
	}
	cfg, rules, errs := cfg.check(deps.Rules == nil)
	if deps.Rules != nil {
		rules = deps.Rules
	}
	if cfg.Assignments.Enabled && deps.Users == nil {
		errs = append(errs, errors.New("assignments.enabled: needs the LivePerson Users API"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	deps.Logger = cmp.Or(deps.Logger, slog.New(slog.DiscardHandler))
	deps.BatchSize = cmp.Or(deps.BatchSize, DefaultBatchSize)
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Redact == nil {
		deps.Redact = func(s string) string { return s }
	} else {
		deps.Store = redactStore{RunStore: deps.Store, redact: deps.Redact}
		deps.Logger = slog.New(secret.Handler(deps.Logger.Handler(), deps.Redact, nil))
	}
	return &Runner{deps: deps, cfg: cfg, rules: rules, slot: make(chan struct{}, 1)}, nil
}

// run performs one run, its caller holding the run slot: lock, read the HR source, check its health,
// read the account (one skills GET, and one users GET when the plan needs
// users; more only when the account changed between them), plan, and in apply mode apply. The run
// is recorded with its outcome, counts and plan: a dry run (plan mode) ends
// planned or no_changes, an apply run applied, partial or no_changes; either
// may end refused, failed or interrupted. A refused, partial or interrupted
// run returns a nil error: its outcome says what happened.
func (r *Runner) run(ctx context.Context, mode store.Mode, trigger store.Trigger, appr *Approval) (*Result, error) {
	if _, ok := AsOf(ctx); ok && mode != store.ModePlan {
		return nil, errAsOfApply
	}
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
	if r.deps.Preflight != nil {
		// After the lock: a replica skipping an account another one
		// holds asks nothing more of the database.
		if err := r.deps.Preflight(ctx, mode, trigger); err != nil {
			return nil, &preflightRefusal{err}
		}
	}
	// Holding the lock, any run still recorded as running belongs to a
	// process that died (or lost the database): close it before this run
	// begins, so that its journal counts as an earlier run's.
	if err := r.markInterrupted(ctx); err != nil {
		return nil, fmt.Errorf("close runs left running: %w", err)
	}
	if appr != nil {
		// A plan unknown, applied already or too old is refused before
		// any run begins.
		if err := r.loadApproval(ctx, appr); err != nil {
			return nil, err
		}
	}
	start := r.deps.Now()
	run, err := r.deps.Store.BeginRun(ctx, trigger, mode)
	if err != nil {
		return nil, fmt.Errorf("begin run: %w", err)
	}
	if appr != nil {
		run.ApprovedRun, run.ApprovedBy = &appr.RunID, appr.By
	}
	r.begin(run)
	// The run id goes on every line of the run: on the engine's through
	// its logger, on those of the adapters it calls (which log with the
	// context) through LogHandler.
	ctx = WithRunID(ctx, run.ID)
	// Every LivePerson write of the run first confirms that the run still
	// holds the lock: a lost session (a failover, an idle timeout) frees
	// it for another replica, and two runs must never write at once.
	rc := &runContext{Runner: r, deps: guardWrites(r.deps, lock), lock: lock, run: run, start: start,
		log: r.deps.Logger.With(runIDAttr, run.ID), approval: appr}
	rc.log.InfoContext(ctx, "run started", "mode", mode, "trigger", trigger)
	return rc.execute(ctx, mode)
}

// runContext is the state of one run.
type runContext struct {
	*Runner
	// deps are the runner's, with every LivePerson write guarded by the
	// run lock (guardWrites).
	deps   Deps
	lock   lockChecker
	run    store.Run
	start  time.Time
	log    *slog.Logger
	counts applyCounts
	// datedRun is the effective dating of the run (see dated.go).
	datedRun *datedRun
	// approval is set on an approval run (approve.go); stored records
	// what the plan of a dry or refused run was made from (SavePlan).
	approval *Approval
	stored   store.StoredPlan
	// people are what assignments read of the records (set by planRun;
	// nil without assignments).
	people *hrPeople
}

func (rc *runContext) execute(ctx context.Context, mode store.Mode) (*Result, error) {
	res := &Result{}
	snap, err := rc.deps.Source.Read(ctx)
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("read HR source: %w", err))
	}
	// The fingerprint is of the records as read: the day they are planned
	// for shows in the plan, which an approval makes again and compares.
	rc.stored.HRFingerprint = Fingerprint(snap)
	if stale := rc.approval.checkHR(rc.stored.HRFingerprint); stale != nil {
		return rc.discard(ctx, stale)
	}
	if snap, err = rc.dated(ctx, mode, snap); err != nil {
		return rc.fail(ctx, res, nil, err)
	}
	last, err := rc.deps.Store.LastAcceptedSnapshot(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rc.fail(ctx, res, nil, fmt.Errorf("read last accepted snapshot: %w", err))
	}
	health := CheckHealth(rc.healthView(ctx, snap), last, rc.cfg.Sync)
	if health.Refusal != "" && rc.approval.overrides(guardSourceHealth) {
		// The person approved this very feed: it becomes the baseline.
		rc.log.Warn("source-health guard overridden once by the approval of the refused run", "approved_run", rc.approval.RunID,
			"records", health.Records, "active", health.Active, "previous_active", health.PreviousActive, "refusal", rc.deps.Redact(health.Refusal))
		health.Refusal = ""
	}
	snapID, err := rc.deps.Store.RecordSnapshot(ctx, store.Snapshot{
		RunID: rc.run.ID, Records: health.Records, Active: health.Active, ValueCounts: snap.Stats.ValueCounts,
		HeaderHash: snap.Stats.HeaderHash, Accepted: health.Refusal == "", Reason: health.Refusal,
	})
	if err != nil {
		return rc.fail(ctx, res, nil, fmt.Errorf("record snapshot: %w", err))
	}
	rc.run.SnapshotID = &snapID
	if health.Refusal != "" {
		res.Refusal = rc.deps.Redact(health.Refusal)
		rc.log.Warn("run refused by the source-health guard", "records", health.Records, "active", health.Active,
			"previous_active", health.PreviousActive, "drop_percent", health.DropPercent, "reason", res.Refusal)
		rc.run.Error = res.Refusal
		rc.stored.RefusedBy = guardSourceHealth
		res.Plan = rc.refusedPlan(ctx, snap)
		return rc.finish(ctx, res, store.OutcomeRefused, nil)
	}
	// From here on the run holds no record (see planRun): a re-plan
	// needs no more than what assignments read of them.
	in, budget, plan, err := rc.planRun(ctx, snap)
	if err != nil {
		return rc.fail(ctx, res, nil, err)
	}
	res.Plan = plan
	if mode == store.ModePlan {
		if refusal := assignmentRefusal(plan); refusal != "" {
			// The run it previews would be refused: say so now.
			return rc.refuseAssignments(ctx, res, refusal)
		}
		// A dry run never ends applied: it changed nothing.
		outcome := store.OutcomeNoChanges
		if plan.HasChanges() {
			outcome = store.OutcomePlanned
		}
		return rc.finish(ctx, res, outcome, nil)
	}
	if rc.approval != nil {
		if err := rc.approved(ctx, plan); err != nil {
			return rc.stopApproval(ctx, res, plan, err)
		}
	}
	return rc.apply(ctx, res, in, budget)
}

// planRun evaluates the rules over snap, reads the state and the account,
// and plans: the run's input, its delete budget and its plan. An approval
// run plans with the delete budget and grace of the plan it applies.
//
// Once the rules have run, the run holds what assignments read of the
// records (rc.people), not snap: the records, their values and origins
// (at 1,000,000 records, 280 MB of a dry run's 770 MB of live heap) are
// garbage before the users are read.
func (rc *runContext) planRun(ctx context.Context, snap *hrsource.Snapshot) (PlanInput, int, *Plan, error) {
	desired, err := rc.rules.Desired(snap)
	if err != nil {
		return PlanInput{}, 0, nil, err
	}
	rc.datedRun.complete(desired)
	rc.datedRun.release()
	rc.people = nil
	if rc.cfg.Assignments.Enabled {
		rc.people = peopleOf(snap.Records, assignMatch(rc.cfg))
	}
	for _, p := range desired.Problems {
		rc.log.Warn("record skipped by a rule; deletes of the rule's skills are held", "record", p.RecordID, "origin", p.Origin, "rule", p.RuleID, "problem", p.Msg)
	}
	registry, err := rc.deps.Store.OwnedSkills(ctx)
	if err != nil {
		return PlanInput{}, 0, nil, fmt.Errorf("read ownership registry: %w", err)
	}
	pending, err := rc.deps.Store.PendingDeletes(ctx)
	if err != nil {
		return PlanInput{}, 0, nil, fmt.Errorf("read pending deletes: %w", err)
	}
	unconfirmed, err := rc.deps.Store.UnconfirmedCreates(ctx)
	if err != nil {
		return PlanInput{}, 0, nil, fmt.Errorf("read unanswered creates of earlier runs: %w", err)
	}
	written, err := rc.deps.Store.SkillStates(ctx)
	if err != nil {
		return PlanInput{}, 0, nil, fmt.Errorf("read written skill state: %w", err)
	}
	if written == nil {
		// nil tells the planner the state is unknown; an empty map says
		// nothing was written yet.
		written = map[int64]SkillState{}
	}
	in := PlanInput{
		Desired: desired.Skills, Registry: registry, Pending: pending, Written: written,
		Policy: rc.cfg.Sync.Policy, AdoptExisting: rc.cfg.Skills.AdoptExisting,
		DeleteAfterRuns: rc.cfg.Sync.DeleteAfterRuns, RunID: rc.run.ID, Problems: desired.Problems,
		Skipped: desired.Skipped, Unconfirmed: unconfirmed,
	}
	budget := DeleteBudget(rc.cfg.Sync, activeOwned(registry))
	if rc.approval != nil {
		// What the person saw: the stored plan's budget and grace, and
		// its run id (the first run that missed a skill, in the plan's
		// reasons), so that the plan made now can be compared with it.
		ap := rc.approval.plan
		budget, in.DeleteAfterRuns, in.RunID = ap.DeleteBudget, ap.DeleteAfterRuns, ap.RunID
	}
	rc.stored.DeleteBudget, rc.stored.DeleteAfterRuns = budget, in.DeleteAfterRuns
	plan, err := rc.readAndPlan(ctx, &in, budget)
	if err != nil {
		return PlanInput{}, 0, nil, err
	}
	return in, budget, plan, nil
}

// Bounds of reading the account.
const (
	// maxAccountReads is how many times a run reads skills (and users)
	// looking for answers of one revision before it gives up.
	maxAccountReads = 3
	// maxProbes is how many owned skills missing from the skill list a run
	// checks one by one (a bad list read must not cost a GET per skill).
	maxProbes = 20
	// maxStaleReplans bounds re-plans after the applier had to re-read
	// the account (a create whose outcome it had to find out).
	maxStaleReplans = 3
)

// readAndPlan reads the account's skills (deleted ones included) and,
// when the plan needs them (assignments, or deletes that users may still
// hold), its users, and plans against them. Both reads must carry the same
// account revision: the plan carries it (Plan.Revision, UsersRevision) and
// the applier sends it as If-Match, so a skill edited by hand between the
// two reads would otherwise be written back from the older read under the
// newer revision, and the edit lost. On a mismatch it reads again (bounded): a list
// unchanged since is answered 304 from the client's cache.
//
// Owned skills missing from the list are checked one by one (GET
// /skills/{id}): only a 404 lets the planner forget or recreate them.
//
// Users read only for the deletes (assignments off) and refused with 401
// or 403 do not fail the run: the deletes are held (GuardDeletes,
// HoldUsersUnreadable).
func (rc *runContext) readAndPlan(ctx context.Context, in *PlanInput, budget int) (*Plan, error) {
	var probed map[int64]*liveperson.Skill // id → skill, nil value: 404
	for attempt := 1; ; {
		current, rev, err := rc.deps.Skills.ListSkillsAt(ctx, true)
		if err != nil {
			return nil, fmt.Errorf("read LivePerson skills: %w", err)
		}
		missing := missingOwned(current, in.Registry)
		if len(missing) > 0 && probed == nil {
			if probed, err = rc.probe(ctx, missing); err != nil {
				return nil, err
			}
			// List again (a conditional GET), so that the plan rests on
			// one read taken after the single ones.
			continue
		}
		in.Gone = nil
		for _, id := range missing {
			s, ok := probed[id]
			switch {
			case ok && s == nil:
				if in.Gone == nil {
					in.Gone = map[int64]bool{}
				}
				in.Gone[id] = true
			case ok:
				current = append(current, *s)
			}
		}
		in.Current, in.Revision = current, rev
		var users []liveperson.User
		var usersRev string
		var usersDenied error
		if rc.deps.Users != nil && (rc.cfg.Assignments.Enabled || hasDeletes(BuildPlan(*in))) {
			// Without assignments users are only read: a skill an agent
			// holds is not deleted, and the plan says who holds it.
			users, usersRev, err = rc.deps.Users.ListUsersAt(ctx)
			switch {
			case err != nil && !rc.cfg.Assignments.Enabled && accessDenied(err):
				// Skills-only credentials: everything but the deletes
				// can go ahead; the deletes wait (HoldUsersUnreadable).
				usersDenied, users = err, nil
			case err != nil:
				return nil, fmt.Errorf("read LivePerson users: %w", err)
			}
		}
		// Users not read (or refused) and users sent without a revision
		// have nothing to compare.
		if rev == "" || usersRev == "" || usersRev == rev {
			p := rc.plan(*in, budget, users, usersDenied)
			p.Revision, p.UsersRevision = rev, usersRev
			finishPlan(p, in.Current)
			return p, nil
		}
		if attempt == maxAccountReads {
			return nil, fmt.Errorf("the account kept changing while it was read (skills at revision %s, then %s, %d times in a row): nothing was written; the next run reads it again", rev, usersRev, attempt)
		}
		rc.log.Warn("the account changed between reads; reading it again so that what is written matches the revision sent", "skills_revision", rev, "revision_now", usersRev, "attempt", attempt)
		attempt++
	}
}

// missingOwned lists the owned skills absent from a skill list.
func missingOwned(current []liveperson.Skill, registry []store.OwnedSkill) []int64 {
	seen := make(map[int64]bool, len(current))
	for _, s := range current {
		seen[s.ID] = true
	}
	var out []int64
	for _, r := range registry {
		if r.ReleasedAt == nil && !seen[r.SkillID] {
			out = append(out, r.SkillID)
		}
	}
	return out
}

// probe reads owned skills missing from the list one by one; a nil value
// means LivePerson answered 404.
func (rc *runContext) probe(ctx context.Context, ids []int64) (map[int64]*liveperson.Skill, error) {
	if len(ids) > maxProbes {
		// The rest stay owned and untouched this run, each with a
		// warning in the plan; once the checked ones are settled (a 404
		// forgets them), later runs check the others.
		rc.log.Warn("LivePerson's skill list lacks many skills skillsync manages; checking some one by one this run",
			"missing", len(ids), "checked", maxProbes)
		ids = ids[:maxProbes]
	}
	out := make(map[int64]*liveperson.Skill, len(ids))
	for _, id := range ids {
		s, err := rc.deps.Skills.GetSkill(ctx, id)
		switch {
		case errors.Is(err, liveperson.ErrNotFound):
			out[id] = nil
			rc.log.Info("owned skill no longer exists in LivePerson", "skill_id", id)
		case err != nil:
			return nil, fmt.Errorf("read skill %d, which skillsync manages and the skill list lacks: %w", id, err)
		default:
			out[id] = &s
			rc.log.Warn("owned skill missing from LivePerson's skill list, but it exists", "skill_id", id, "skill", s.Name, "deleted", s.Deleted)
		}
	}
	return out, nil
}

// accessDenied reports whether LivePerson refused a request for want of
// authentication or permission (401 after the client's re-login, or 403).
func accessDenied(err error) bool {
	var apiErr *liveperson.APIError
	return errors.As(err, &apiErr) && (apiErr.Status == 401 || apiErr.Status == 403)
}

func hasDeletes(p *Plan) bool {
	return slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Action == ActionDelete })
}

// plan builds the plan for in, with the assignments section when enabled,
// and the delete guard's holds (GuardDeletes), and logs what the guard held.
func (rc *runContext) plan(in PlanInput, budget int, users []liveperson.User, usersUnreadable error) *Plan {
	p, held := planPeople(rc.cfg, in, budget, rc.people, users, usersUnreadable)
	counts := map[DeleteHold]int{}
	for _, h := range held {
		counts[h.Hold]++
	}
	if n := counts[HoldReferenced]; n > 0 {
		rc.log.Warn("deletes held back: skills still referenced", "held_back", n)
	}
	if n := counts[HoldBudget]; n > 0 {
		rc.log.Warn("delete budget reached; deletes held back", "held_back", n, "budget", budget)
	}
	if n := counts[HoldUsersUnreadable]; n > 0 {
		rc.log.Warn("deletes held: the credentials cannot list users", "held", n, "status", deniedStatus(usersUnreadable), "error", usersUnreadable)
	}
	return p
}

// planAccount is the planning of a run without its I/O: the skills plan,
// the assignments (when enabled), then the delete guard (GuardDeletes:
// deletes held because something still references the skill, beyond the
// budget, or because LivePerson refused to list users, usersUnreadable).
// It returns the plan and the deletes the guard held. finishPlan completes
// the plan once every guard has spoken.
func planAccount(cfg Config, in PlanInput, budget int, records []hrsource.Record, users []liveperson.User, usersUnreadable error) (*Plan, []HeldDelete) {
	var people *hrPeople
	if cfg.Assignments.Enabled {
		people = peopleOf(records, assignMatch(cfg))
	}
	return planPeople(cfg, in, budget, people, users, usersUnreadable)
}

// assignMatch is the match key assignments use (assignments.match).
func assignMatch(cfg Config) string { return cmp.Or(cfg.Assignments.Match, "email") }

// planPeople is planAccount over what assignments read of the records
// (peopleOf them).
func planPeople(cfg Config, in PlanInput, budget int, people *hrPeople, users []liveperson.User, usersUnreadable error) (*Plan, []HeldDelete) {
	p := BuildPlan(in)
	if cfg.Assignments.Enabled {
		// Skills taken over by this plan are owned from its first write on.
		registry := append(slices.Clip(in.Registry), p.Takeovers...)
		p.Assignments = PlanAssignments(p, in.Desired, registry, in.Current, AssignInput{
			people: people, Users: users, Match: cfg.Assignments.Match, MaxChangesPercent: cfg.Assignments.MaxChangesPercent,
			KeepUnmatched: cfg.Assignments.KeepUnmatched, Problems: in.Problems, Skipped: in.Skipped,
			AgentProfileIDs: cfg.Assignments.AgentProfileIDs,
		})
	}
	held := GuardDeletes(p, GuardInput{Current: in.Current, Users: users, Budget: budget, UsersUnreadable: usersUnreadable})
	return p, held
}

// finishPlan is the last step of planning, once every guard has decided
// which deletes go ahead: skills whose delete waits keep their
// assignments, and skills deleted give up their names first.
func finishPlan(p *Plan, current []liveperson.Skill) {
	if p.Assignments != nil {
		p.Assignments.keepPending(p)
	}
	FreeDeletedNames(p, current)
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

func (rc *runContext) apply(ctx context.Context, res *Result, in PlanInput, budget int) (*Result, error) {
	plan := res.Plan
	ap := newApplier(rc.deps.Skills, rc.deps.Store, rc.log, rc.run.ID, rc.deps.BatchSize, &rc.counts)
	ap.lock = rc.lock
	ap.reset(plan.writeRevision(), in.Current, in.Registry)
	var err error
	conflicts, stale := 0, 0
	for {
		if rc.cfg.Assignments.Enabled {
			ap.assign = rc.assignPhase(ap, plan)
		}
		err = ap.apply(ctx, plan)
		if !errors.Is(err, errReplan) && !errors.Is(err, errStale) {
			break
		}
		if rc.approval != nil {
			// What the person approved is not re-planned: the rest waits
			// for a new plan.
			return rc.movedDuringApproval(ctx, res, err)
		}
		// The first pass settled the earlier runs' creates; the registry
		// read below has what it took over.
		in.Unconfirmed = nil
		if errors.Is(err, errStale) {
			// The applier re-read the account: the rest of the plan was
			// built from an older read, and its bodies must not be sent
			// under the newer revision.
			if stale >= maxStaleReplans {
				err = fmt.Errorf("gave up re-planning after %d re-reads of the account in one run; the next run continues: %w", stale, err)
				break
			}
			stale++
			rc.log.Info("the account was re-read while applying; re-planning what is left from a fresh read", "replan", stale)
		} else {
			if conflicts >= rc.cfg.Sync.MaxConflictRetries {
				err = fmt.Errorf("LivePerson kept reporting revision conflicts: gave up after %d re-plans (sync.max_conflict_retries); someone else is changing the account's skills, the next run continues: %w",
					conflicts, err)
				break
			}
			conflicts++
			rc.log.Warn("revision conflict; re-reading the account and re-planning what is left", "attempt", conflicts, "error", err)
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
		if plan, err = rc.readAndPlan(ctx, &in, max(budget-rc.counts.Deleted, 0)); err != nil {
			err = fmt.Errorf("re-read the account: %w", err)
			break
		}
		ap.dropFailedCreates(plan)
		ap.reset(plan.writeRevision(), in.Current, in.Registry)
	}
	switch {
	case err != nil && unconfirmedLock(err):
		// Another replica may be applying now: nothing more is written,
		// the pending deletes included; the next run settles the rest.
		rc.log.Error("run stopped: it no longer holds the run lock; nothing more is written", "error", err)
		rc.run.Error = "interrupted: " + err.Error() + "; nothing more was written, and the next run settles the rest"
		return rc.finish(ctx, res, store.OutcomeInterrupted, nil)
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
	if refusal := assignmentRefusal(plan); refusal != "" {
		if c.Failed > 0 {
			refusal += fmt.Sprintf("; besides, %d operations failed (see the run's journal)", c.Failed)
		}
		return rc.refuseAssignments(ctx, res, refusal)
	}
	switch {
	case c.Failed > 0:
		rc.run.Error = fmt.Sprintf("%d operations failed; see the run's journal", c.Failed)
		return rc.finish(ctx, res, store.OutcomePartial, nil)
	case c.Created+c.Updated+c.Deleted+c.Assigned+c.Unassigned+c.TakenOver+c.Adopted > 0 || len(plan.RegistryFixes)+len(plan.Forget) > 0:
		return rc.finish(ctx, res, store.OutcomeApplied, nil)
	}
	return rc.finish(ctx, res, store.OutcomeNoChanges, nil)
}

// assignmentRefusal is the removal cap's refusal of plan p, or "".
func assignmentRefusal(p *Plan) string {
	if p == nil || p.Assignments == nil {
		return ""
	}
	return p.Assignments.Refusal
}

// refuseAssignments ends a run the removal cap refused: everything else in
// its plan was applied (in apply mode), the removals were not. It is
// recorded refused, with the numbers, and alerts like any refusal.
func (rc *runContext) refuseAssignments(ctx context.Context, res *Result, refusal string) (*Result, error) {
	rc.stored.RefusedBy = guardAssignments
	res.Refusal = rc.deps.Redact(refusal)
	rc.run.Error = res.Refusal
	rc.log.Warn("run refused by the assignments removal cap", "reason", res.Refusal)
	return rc.finish(ctx, res, store.OutcomeRefused, nil)
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

// finish records the run (even when ctx was cancelled), logs the one
// summary line and reports the run (OnRunEnd).
func (rc *runContext) finish(ctx context.Context, res *Result, outcome store.Outcome, _ error) (*Result, error) {
	// Planning is over: what remains (encoding the plan, storing it)
	// needs no record.
	rc.people = nil
	now := rc.deps.Now()
	run := rc.run
	run.Outcome = outcome
	run.FinishedAt = &now
	run.Error = rc.deps.Redact(run.Error)
	rc.datedRun.finishDated(res.Plan)
	if res.Plan != nil {
		// The plan stored, and the one returned, carry no secret quoted
		// in a problem or warning.
		res.Plan = res.Plan.redacted(rc.deps.Redact)
		run.Counts = store.Counts{Summary: res.Plan.Summary()}
		if run.Mode == store.ModeApply {
			c := rc.counts
			// An adoption without field changes is an update in the
			// plan's summary; the run's counts match it.
			run.Counts.Create, run.Counts.Update, run.Counts.Delete = c.Created, c.Updated+c.Adopted, c.Deleted
			run.Counts.Assign, run.Counts.Unassign, run.Counts.Failed = c.Assigned, c.Unassigned, c.Failed
		}
		// MarshalJSON itself: json.Marshal would copy its output twice
		// more to check it is compact, which it is (tens of MB at 1,000,000
		// records).
		b, err := res.Plan.MarshalJSON()
		if err != nil {
			return res, fmt.Errorf("encode plan: %w", err)
		}
		run.Plan = b
	}
	res.Run = run
	reported := rc.settle(run.ID)
	if err := rc.deps.Store.FinishRun(context.WithoutCancel(ctx), run); err != nil {
		return res, fmt.Errorf("record run %d: %w", run.ID, err)
	}
	rc.log.Info("run finished", "outcome", outcome, "mode", run.Mode,
		"created", run.Counts.Create, "updated", run.Counts.Update, "deleted", run.Counts.Delete,
		"pending", run.Counts.PendingDelete, "conflicts", run.Counts.UnmanagedConflict,
		"assigned", run.Counts.Assign, "unassigned", run.Counts.Unassign, "failed", run.Counts.Failed,
		"duration", rc.deps.Now().Sub(rc.start))
	rc.storePlan(ctx, res)
	if !reported {
		rc.ended(ctx, res)
	}
	return res, nil
}
