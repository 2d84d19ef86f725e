// Package sync turns HR records into the skills a LivePerson account should
// have, plans the changes against the account's current skills, guards the
// plan against a broken feed, and applies it.
//
// The Runner owns the run lifecycle (lifecycle.go): the one in-process run
// slot, the Postgres run lock, marking runs a dead process left running
// interrupted, recording every outcome (a panic as failed, a run abandoned
// at shutdown as interrupted), and the one observer hook, Deps.OnRunEnd,
// called once per recorded run (metrics, notifications, the console).
// Callers only start runs and stop the process.
//
// One run (Runner.RunOnce) is: take the in-process run slot and the Postgres
// run lock; mark runs a dead process left running interrupted; read the HR
// source; refuse the run if the feed looks broken (CheckHealth); evaluate
// the rules (CompileRules, Rules.Desired); read the account's skills once
// (deleted ones included) and, with assignments or deletes, its users
// once, both at one account revision (read again when they differ), and
// the creates earlier runs never saw answered; plan (BuildPlan,
// PlanAssignments, then the delete guard, GuardDeletes); and in apply mode
// write the plan: skills taken over, creates, updates, user assignments,
// deletes, in batches, journaled item by item.
//
// The planner decides per registry key (rule id + the values of the
// attributes the rule's name reads):
//
//	owned, exists, same fields          → unchanged
//	owned, exists, fields differ        → update (before/after, changed fields)
//	owned, registered name ≠ desired     → update renaming in place (same id)
//	owned, edited by hand               → update marked drift
//	owned, deleted in LP (deleted:true  → create again (if the name is free)
//	or GET /skills/{id} 404)
//	owned, missing from the list only   → left as it is, with a warning
//	not owned, name free                → create
//	not owned, name taken (any case)    → unmanaged conflict, or adopt with
//	                                      skills.adopt_existing
//	not owned, name taken by a skill an → taken over: registered under the
//	earlier run created without seeing    journaled rule key and shown as an
//	the answer (journal: create left      adoption; then planned as owned
//	sent, run finished), with every       (update, or pending delete when no
//	field that create sent (madeBy)       longer desired)
//	the same, a field differs from what → unmanaged conflict saying which
//	was sent (maybe made by hand)         field (never taken over)
//	owned, no longer desired            → pending delete, then delete after
//	                                      sync.delete_after_runs apply runs,
//	                                      within the delete budget, and only
//	                                      once nothing else holds the skill
//	                                      (users included: they are read
//	                                      whenever the plan deletes)
//	owned, no longer desired, its rule  → pending delete, grace not advanced
//	skipped records with problems
//
// Policies (sync, upsert-only, create-only) filter the result. The planner
// does no I/O: the same input gives the same plan, sorted by skill name.
//
// In the house (README, Layout; e2e/layout_test.go), it imports hrsource, liveperson, store and internal/secret; never cmd.
package sync

import (
	"context"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// RecordSource reads the HR feed (implemented by hrsource sources).
type RecordSource interface {
	Read(ctx context.Context) (*hrsource.Snapshot, error)
}

// SkillsAPI is the part of LivePerson's Skills API the engine uses
// (implemented by *liveperson.Client). Each write call is one request that
// sends the revision it is given as If-Match and returns the revision the
// next write sends (the applier carries it from write to write; see
// liveperson's package documentation). Its writes must honour
// liveperson.WithWriteCheck as the client does, asking the check in their
// context before every request they send: the run lock is confirmed there
// (guardWrites) and nowhere else for item-by-item resends and follow-ups,
// so a write that skips it could leave after another replica took the lock.
type SkillsAPI interface {
	// ListSkillsAt reads every skill, deleted ones too when
	// includeDeleted, and returns the account revision the list was read
	// at ("" when unknown). The engine reads skills and users until both
	// answers carry the same revision, so that the bodies it writes back
	// are those of the revision it sends.
	ListSkillsAt(ctx context.Context, includeDeleted bool) ([]liveperson.Skill, string, error)
	// GetSkill reads one skill; a skill that does not exist is an error
	// matching liveperson.ErrNotFound. The engine uses it to confirm that
	// an owned skill is gone before forgetting it (or counting a DELETE
	// answered 404 as done), so it must read from the primary
	// (accountConfigReadWrite), not a replica that may lag. It returns no
	// revision: the applier goes on sending the one it carries.
	GetSkill(ctx context.Context, id int64) (liveperson.Skill, error)
	// CreateSkills creates skills at revision rev. An answer that does not
	// name every skill with its id is an error matching
	// liveperson.ErrOutcomeUnknown: the applier finds them by name
	// (resolveUnknownCreates), the client never does.
	CreateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error)
	UpdateSkills(ctx context.Context, rev string, skills []liveperson.Skill) ([]liveperson.Skill, string, error)
	DeleteSkills(ctx context.Context, rev string, ids []int64) (string, error)
}

// UsersAPI is the part of LivePerson's Users API the engine uses. In
// production it is the same client as SkillsAPI: users and skills share
// the account revision. Its writes honour liveperson.WithWriteCheck, as
// SkillsAPI's do.
type UsersAPI interface {
	// ListUsersAt reads every user and returns the account revision the
	// list was read at ("" when unknown).
	ListUsersAt(ctx context.Context) ([]liveperson.User, string, error)
	// UpdateUsers writes users at revision rev and returns the revision
	// the next write sends.
	UpdateUsers(ctx context.Context, rev string, users []liveperson.User) (string, error)
}

// RunStore is the run-state store (implemented by *store.Store).
type RunStore interface {
	AcquireRunLock(ctx context.Context) (*store.RunLock, error)
	// MarkInterrupted closes runs left running by a process that died;
	// the runner calls it only while holding the run lock.
	MarkInterrupted(ctx context.Context) (int, error)
	BeginRun(ctx context.Context, trigger store.Trigger, mode store.Mode) (store.Run, error)
	FinishRun(ctx context.Context, run store.Run) error

	JournalAdd(ctx context.Context, runID int64, ops []store.Operation) ([]int64, error)
	JournalSet(ctx context.Context, updates []store.OpUpdate) error
	// UnconfirmedCreates returns the creates finished runs left intended
	// or sent: their answer was lost with their process, and the skill
	// may exist in LivePerson with nothing of ours knowing its id.
	UnconfirmedCreates(ctx context.Context) ([]store.Operation, error)
	// TakeOverSkills registers skills those creates made and settles
	// their journal rows, in one transaction.
	TakeOverSkills(ctx context.Context, skills []store.OwnedSkill, settled []store.OpUpdate) error

	OwnedSkills(ctx context.Context) ([]store.OwnedSkill, error)
	UpsertOwnedSkills(ctx context.Context, skills []store.OwnedSkill) error
	DeleteOwnedSkills(ctx context.Context, skillIDs []int64) error

	RecordSnapshot(ctx context.Context, snap store.Snapshot) (int64, error)
	LastAcceptedSnapshot(ctx context.Context) (*store.Snapshot, error)

	PendingDeletes(ctx context.Context) ([]store.PendingDelete, error)
	SetPendingDeletes(ctx context.Context, pending []store.PendingDelete) error

	// SkillStates returns, per owned skill, the managed field values
	// skillsync last wrote to it: with them a hand edit of any managed
	// field is reported as drift, not only a rename.
	SkillStates(ctx context.Context) (map[int64]SkillState, error)
	// SetSkillStates upserts states; a nil state removes the skill's.
	SetSkillStates(ctx context.Context, states map[int64]SkillState) error

	// SavePlan keeps what a dry or refused run planned from; GetPlan
	// reads it back (store.ErrNotFound: no such plan), ClaimPlan marks it
	// applied by an approval run, once (store.ErrPlanApplied after), and
	// DiscardRun removes an approval run refused before it wrote anything.
	SavePlan(ctx context.Context, p store.StoredPlan) error
	GetPlan(ctx context.Context, runID int64) (store.StoredPlan, error)
	ClaimPlan(ctx context.Context, planRun, applyRun int64, approvedBy string) error
	DiscardRun(ctx context.Context, runID int64) error
}
