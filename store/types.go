// Package store keeps skillsync's state in PostgreSQL, every piece of it
// belonging to one LivePerson account (Store.Account gives the view of one):
// runs and their operation journal, the ownership registry, source
// snapshots, pending deletes, stored plans, the notifications outbox, and
// the advisory lock per account that allows one applying run at a time.
//
// In the house (README, Layout; e2e/layout_test.go), it imports migrations,
// internal/secret and internal/jsonscan; never hrsource, liveperson or sync.
package store

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrRunInProgress is returned when another process or goroutine holds the
// run lock.
var ErrRunInProgress = errors.New("another skillsync run is in progress")

// ErrNotFound is returned when a run, skill or snapshot does not exist.
var ErrNotFound = errors.New("not found")

// Trigger says what started a run.
type Trigger string

// Triggers.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerAPI      Trigger = "api"
	TriggerDemo     Trigger = "demo"
	// TriggerApproval: a person approved a stored plan (skillsync apply,
	// POST /v1/runs/{id}/apply); the run applies exactly that plan.
	TriggerApproval Trigger = "approval"
)

// Mode is plan (dry run) or apply.
type Mode string

// Modes.
const (
	ModePlan  Mode = "plan"
	ModeApply Mode = "apply"
)

// Outcome is how a run ended.
type Outcome string

// Outcomes. Planned is for dry runs (mode plan) only, applied and partial
// for apply runs only; the database refuses other pairs.
const (
	OutcomeRunning   Outcome = "running"
	OutcomeNoChanges Outcome = "no_changes"
	// OutcomePlanned: a dry run found changes (and made none).
	OutcomePlanned Outcome = "planned"
	// OutcomeApplied: an apply run made every change it planned.
	OutcomeApplied Outcome = "applied"
	// OutcomePartial: an apply run made some changes and some failed.
	OutcomePartial     Outcome = "partial"
	OutcomeRefused     Outcome = "refused"
	OutcomeFailed      Outcome = "failed"
	OutcomeInterrupted Outcome = "interrupted"
)

// Outcomes lists the outcomes a finished run of mode m can have, in the
// order of the README; the database refuses the other pairs.
func (m Mode) Outcomes() []Outcome {
	if m == ModePlan {
		return []Outcome{OutcomeNoChanges, OutcomePlanned, OutcomeRefused, OutcomeFailed, OutcomeInterrupted}
	}
	return []Outcome{OutcomeNoChanges, OutcomeApplied, OutcomePartial, OutcomeRefused, OutcomeFailed, OutcomeInterrupted}
}

// Modes lists the run modes.
func Modes() []Mode { return []Mode{ModePlan, ModeApply} }

// Summary counts a plan's changes per action: the plan's "summary" (the
// JSON contract; sync.Summary is this type) and the counts a run records.
type Summary struct {
	Create            int `json:"create"`
	Update            int `json:"update"`
	Delete            int `json:"delete"`
	PendingDelete     int `json:"pending_delete"`
	Unchanged         int `json:"unchanged"`
	UnmanagedConflict int `json:"unmanaged_conflict"`
	Assign            int `json:"assign"`
	Unassign          int `json:"unassign"`
}

// Counts are the per-action counts of a run: its plan's Summary (planned
// in plan mode, done in apply mode), and Failed, the operations that
// failed. Its JSON is the summary's keys and "failed".
type Counts struct {
	Summary
	Failed int `json:"failed"`
}

// Run is one row of the run history.
type Run struct {
	ID         int64
	Trigger    Trigger
	Mode       Mode
	StartedAt  time.Time
	FinishedAt *time.Time
	Outcome    Outcome
	Counts     Counts
	Error      string
	Plan       json.RawMessage // the plan as JSON (nil until finished)
	SnapshotID *int64
	// ApprovedRun is, on an approval run, the run whose stored plan it
	// applies; ApprovedBy who approved it (an OS user, a proxy's user
	// header, or "token").
	ApprovedRun *int64
	ApprovedBy  string
}

// OpState is the state of a journaled operation.
type OpState string

// Operation states: intended before the call, sent just before the request
// leaves, done or failed after the answer. Resolved is for an operation
// whose answer never came (its process died) and whose outcome a later run
// settled by reading LivePerson; its Error says how.
const (
	OpIntended OpState = "intended"
	OpSent     OpState = "sent"
	OpDone     OpState = "done"
	OpFailed   OpState = "failed"
	OpResolved OpState = "resolved"
)

// Operation is one journal row: one intended change to LivePerson.
type Operation struct {
	ID        int64
	RunID     int64
	Seq       int    // order within the run, from 1
	Action    string // create, update, delete, assign, unassign, ...
	SkillName string
	SkillID   *int64
	Request   string // short human summary of the request, never a secret
	// RuleID and RuleKey are the registry rule and key of a create: with
	// them a later run can take over a skill whose create answer was lost.
	RuleID  string
	RuleKey string
	// Sent are the managed fields a create sent (name, description and
	// each setting it set), by field name as in SkillState: a later run
	// takes over a skill whose create answer was lost only when the skill
	// has every one of them. nil for other operations, and for creates
	// journaled before the store kept them.
	Sent SkillState
	// Revision is the account revision a create was sent under (its
	// If-Match): a later run settles the create as not made only from a
	// skill list read at a later revision. "" when unknown (other
	// operations, creates journaled before the store kept it).
	Revision   string
	State      OpState
	HTTPStatus *int
	Error      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// OwnedSkill is a row of the ownership registry.
type OwnedSkill struct {
	SkillID      int64
	Name         string
	RuleID       string
	RuleKey      string // rule id + attribute values, stable across renames
	CreatedByRun *int64
	Adopted      bool
	CreatedAt    time.Time
	ReleasedAt   *time.Time // non-nil: no longer managed
}

// Snapshot records the health statistics of one source read.
type Snapshot struct {
	ID          int64
	RunID       int64
	Records     int
	Active      int
	ValueCounts map[string]map[string]int
	HeaderHash  string
	Accepted    bool
	Reason      string // why it was rejected
	CreatedAt   time.Time
}

// PendingDelete is an owned skill absent from the desired state, waiting out
// the delete grace.
type PendingDelete struct {
	SkillID                int64
	SkillName              string
	FirstMissingRun        int64
	ConsecutiveMissingRuns int
	UpdatedAt              time.Time
}

// OpUpdate moves a journaled operation to a new state.
type OpUpdate struct {
	ID         int64
	State      OpState
	HTTPStatus *int
	Error      string
	SkillID    *int64 // set when a create learns the new skill's id
	// Revision, when set, is the revision a create was sent again under;
	// it replaces the stored one only when it is a later one (the row
	// then waits for a list read after the later send).
	Revision string
}
