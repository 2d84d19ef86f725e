package sync

import (
	"context"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
)

// AssignmentPlan is the users section of a plan: which matched users gain
// or lose which owned skills.
type AssignmentPlan struct {
	Users []UserChange `json:"users"`
	// Notes report unmatched records, ambiguous matches and held-back
	// removals, with counts and a few examples.
	Notes []string `json:"notes,omitempty"`
}

// UserChange is one user's planned skill changes.
type UserChange struct {
	UserID   int64    `json:"user_id"`
	Login    string   `json:"login_name,omitempty"`
	Email    string   `json:"email,omitempty"`
	RecordID string   `json:"record_id,omitempty"`
	Assign   []string `json:"assign,omitempty"`
	Unassign []string `json:"unassign,omitempty"`
}

// Counts returns the number of skill grants and removals.
func (a *AssignmentPlan) Counts() (assign, unassign int) {
	for _, u := range a.Users {
		assign += len(u.Assign)
		unassign += len(u.Unassign)
	}
	return assign, unassign
}

// snapshotRecords is the HR snapshot assignments are matched against.
type snapshotRecords = *hrsource.Snapshot

// planAssignments builds the users section of the plan.
func (rc *runContext) planAssignments(p *Plan, in PlanInput, snap snapshotRecords, users []liveperson.User) *AssignmentPlan {
	return &AssignmentPlan{}
}

// assignPhase returns the applier's assignments step.
func (rc *runContext) assignPhase(ap *applier, p *Plan) func(ctx context.Context) error {
	return nil
}
