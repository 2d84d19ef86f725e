package sync

// Reviewed plans (design §7.2). Every dry run and every refused run stores
// the plan it made with what it was made from (store.StoredPlan: the
// account revision, a fingerprint of the HR records, the delete budget and
// grace, the refusal). An approval run applies exactly that plan, once:
//
//   - under the run lock, before a run is begun: the plan must exist, not
//     be applied already, and be younger than sync.plan_max_age;
//   - the HR feed is read again: its Fingerprint must be the stored one;
//   - the account is read again and the plan made anew, with the stored
//     budget, grace and run id: the revision must be the stored one, and
//     the plan the same as the stored one (the ownership registry, pending
//     deletes or the configuration may have changed without LivePerson
//     moving);
//   - the plan is claimed (store.ClaimPlan, a conditional UPDATE: only one
//     approval ever gets it, whatever the replicas), and only then written.
//
// A stale plan writes nothing, and its approval run is not recorded (it did
// not happen: *StaleError says why). The approval of a refused run
// overrides the guard that refused it, once: the source-health guard (its
// snapshot becomes the headcount baseline) or the assignments removal cap
// (the removals it held are made). Should LivePerson move while the plan is
// written, the rest is not re-planned: the run ends partial.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store"
)

// Guards whose refusal an approval overrides (store.StoredPlan.RefusedBy).
const (
	guardSourceHealth = "source_health"
	guardAssignments  = "assignments"
)

// DefaultPlanMaxAge is sync.plan_max_age when unset: an older stored plan
// is stale.
const DefaultPlanMaxAge = 24 * time.Hour

// ErrNoPlan is returned by Approve for a run that does not exist or stored
// no plan (only dry runs and refused runs store one).
var ErrNoPlan = errors.New("no stored plan")

// StaleError says why a stored plan cannot be applied. Nothing was written.
type StaleError struct {
	RunID  int64
	Reason string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("plan %d is stale: %s; run skillsync plan again", e.RunID, e.Reason)
}

// refusedApproval says whether err is an approval refused before anything
// was written (a stale or unknown plan): not a failed run.
func refusedApproval(err error) bool {
	var stale *StaleError
	return errors.As(err, &stale) || errors.Is(err, ErrNoPlan)
}

// Approval is a person's approval of the stored plan of run RunID.
type Approval struct {
	RunID int64
	// By is who approved it: an operating-system user, the user an
	// authenticating proxy named, or "token".
	By string
	// plan is the stored plan, read under the run lock.
	plan store.StoredPlan
}

// Approve takes the run slot and applies the stored plan of run runID (see
// Claim.Approve).
func (r *Runner) Approve(ctx context.Context, runID int64, by string) (*Result, error) {
	c, ok := r.TryClaim()
	if !ok {
		return nil, ErrRunInProgress
	}
	return c.Approve(ctx, runID, by)
}

// Approve applies the stored plan of run runID, as approved by by, in an
// apply run with trigger approval. It returns an error matching ErrNoPlan
// for a run without a stored plan and a *StaleError for a plan that cannot
// be applied any more; neither records a run. A run that starts ends as
// any apply run does, partial when LivePerson moved while it wrote.
func (c *Claim) Approve(ctx context.Context, runID int64, by string) (*Result, error) {
	return c.run(ctx, store.ModeApply, store.TriggerApproval, &Approval{RunID: runID, By: by})
}

// loadApproval reads the stored plan of a, under the run lock, and refuses
// it when it cannot be applied whatever LivePerson and HR say now.
func (r *Runner) loadApproval(ctx context.Context, a *Approval) error {
	p, err := r.deps.Store.GetPlan(ctx, a.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("run %d: %w to apply (only dry runs and refused runs store one: run skillsync plan)", a.RunID, ErrNoPlan)
	}
	if err != nil {
		return err
	}
	a.plan = p
	if p.AppliedByRun != nil {
		return &StaleError{RunID: a.RunID, Reason: fmt.Sprintf("it was applied already, by run %d", *p.AppliedByRun)}
	}
	maxAge := r.cfg.Sync.PlanMaxAge
	if maxAge <= 0 {
		maxAge = DefaultPlanMaxAge
	}
	if age := r.deps.Now().Sub(p.CreatedAt); age > maxAge {
		round := time.Second
		if age < time.Minute {
			round = time.Millisecond
		}
		return &StaleError{RunID: a.RunID, Reason: fmt.Sprintf("it was made %s ago (%s), more than sync.plan_max_age (%s)",
			age.Round(round), p.CreatedAt.UTC().Format(time.RFC3339), maxAge)}
	}
	return nil
}

// overrides says whether the approval overrides guard (nil: no approval).
func (a *Approval) overrides(guard string) bool {
	return a != nil && a.plan.RefusedBy == guard
}

// checkHR refuses the approval when the HR records are not those the plan
// was made from (nil: no approval).
func (a *Approval) checkHR(fingerprint string) *StaleError {
	if a == nil || fingerprint == a.plan.HRFingerprint {
		return nil
	}
	return &StaleError{RunID: a.RunID, Reason: fmt.Sprintf("the HR records changed since the plan was made (SHA-256 %s, now %s)",
		short(a.plan.HRFingerprint), short(fingerprint))}
}

func short(fp string) string { return fp[:min(len(fp), 12)] }

// refusedPlan is the plan a run the source-health guard refused would have
// applied, for a person to review and approve (skillsync apply); nil when
// it could not be made (the refusal stands alone). Nothing is written.
func (rc *runContext) refusedPlan(ctx context.Context, snap *hrsource.Snapshot) *Plan {
	_, _, p, err := rc.planRun(ctx, snap)
	if err != nil {
		rc.log.Warn("the refused run could not plan what it would have applied", "error", err)
		return nil
	}
	return p
}

// approved readies the plan p of an approval run to be written: the same
// as the stored plan (checkPlan), and claimed for this run (claim).
func (rc *runContext) approved(ctx context.Context, p *Plan) error {
	if stale := rc.checkPlan(p); stale != nil {
		return stale
	}
	return rc.claim(ctx)
}

// stopApproval ends an approval run that may not write: refused before
// anything was written (stale), it did not happen (discard); any other
// error fails it.
func (rc *runContext) stopApproval(ctx context.Context, res *Result, p *Plan, err error) (*Result, error) {
	if refusedApproval(err) {
		return rc.discard(ctx, err)
	}
	return rc.fail(ctx, res, p, err)
}

// checkPlan refuses the approval when the plan made now (with the stored
// budget, grace and run id) was made from another account revision than
// the stored one, or differs from it. Otherwise it readies p to be applied
// as approved: the guard that refused it overridden, and this run's id.
func (rc *runContext) checkPlan(p *Plan) *StaleError {
	a := rc.approval
	if a.plan.SkillsRevision != "" && p.Revision != a.plan.SkillsRevision {
		return &StaleError{RunID: a.RunID, Reason: fmt.Sprintf("LivePerson changed since the plan was made (account revision %s, now %s)",
			a.plan.SkillsRevision, p.Revision)}
	}
	if a.plan.UsersRevision != "" && p.UsersRevision != "" && p.UsersRevision != a.plan.UsersRevision {
		return &StaleError{RunID: a.RunID, Reason: fmt.Sprintf("LivePerson's users changed since the plan was made (revision %s, now %s)",
			a.plan.UsersRevision, p.UsersRevision)}
	}
	if diff := planDifference(a.plan.Plan, p.redacted(rc.deps.Redact)); diff != "" {
		return &StaleError{RunID: a.RunID, Reason: "the plan made now differs from the stored one (" + diff +
			"): the ownership registry, the pending deletes or the configuration changed since"}
	}
	if a.overrides(guardAssignments) && p.Assignments != nil {
		p.Assignments.releaseHeld()
		rc.log.Warn("assignments removal cap overridden once by the approval of the refused run", "approved_run", a.RunID)
	}
	p.RunID = rc.run.ID
	return nil
}

// planDifference compares a stored plan (JSON) with p: "" when they are
// the same plan, else the first difference in words.
func planDifference(stored json.RawMessage, p *Plan) string {
	now, err := json.Marshal(p)
	if err != nil {
		return "the plan made now cannot be encoded: " + err.Error()
	}
	var a, b planJSONCompare
	if err := json.Unmarshal(stored, &a); err != nil {
		return "the stored plan cannot be read: " + err.Error()
	}
	if err := json.Unmarshal(now, &b); err != nil {
		return "the plan made now cannot be read: " + err.Error()
	}
	for i := range max(len(a.Changes), len(b.Changes)) {
		switch {
		case i >= len(a.Changes):
			return "now also: " + changeWords(b.Changes[i])
		case i >= len(b.Changes):
			return "no longer: " + changeWords(a.Changes[i])
		case !reflect.DeepEqual(a.Changes[i], b.Changes[i]):
			return "stored: " + changeWords(a.Changes[i]) + "; now: " + changeWords(b.Changes[i])
		}
	}
	if !reflect.DeepEqual(a.Rest, b.Rest) {
		for k, v := range a.Rest {
			if !reflect.DeepEqual(v, b.Rest[k]) {
				return "its " + k + " differ"
			}
		}
		for k := range b.Rest {
			if _, ok := a.Rest[k]; !ok {
				return "now it has " + k
			}
		}
	}
	return ""
}

// planJSONCompare is a plan's JSON split into its changes and the rest.
type planJSONCompare struct {
	Changes []map[string]any
	Rest    map[string]any
}

func (c *planJSONCompare) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&c.Rest); err != nil {
		return err
	}
	if ch, ok := c.Rest["changes"].([]any); ok {
		for _, x := range ch {
			m, _ := x.(map[string]any)
			c.Changes = append(c.Changes, m)
		}
	}
	delete(c.Rest, "changes")
	return nil
}

func changeWords(c map[string]any) string {
	return fmt.Sprintf("%v of skill %q", c["action"], c["skill"])
}

// claim takes the plan for this run, once and for all, before its first
// write.
func (rc *runContext) claim(ctx context.Context) error {
	a := rc.approval
	err := rc.deps.Store.ClaimPlan(ctx, a.RunID, rc.run.ID, a.By)
	if errors.Is(err, store.ErrPlanApplied) {
		return &StaleError{RunID: a.RunID, Reason: "it was applied already (" + err.Error() + ")"}
	}
	if err != nil {
		return fmt.Errorf("claim plan %d: %w", a.RunID, err)
	}
	rc.log.Info("applying the approved plan", "approved_run", a.RunID, "approved_by", a.By)
	return nil
}

// discard ends an approval run refused before its first write: the run
// did not happen, and leaves no row. Should the row stay (the database
// refused), it is recorded failed with the reason.
func (rc *runContext) discard(ctx context.Context, cause error) (*Result, error) {
	rc.log.Warn("approval refused; nothing was written", "approved_run", rc.approval.RunID, "reason", rc.deps.Redact(cause.Error()))
	rc.settle(rc.run.ID)
	if err := rc.deps.Store.DiscardRun(context.WithoutCancel(ctx), rc.run.ID); err != nil {
		rc.run.Error = cause.Error()
		res, ferr := rc.finish(ctx, &Result{}, store.OutcomeFailed, nil)
		return res, errors.Join(cause, ferr)
	}
	return nil, cause
}

// movedDuringApproval stops an approval run whose writes met a LivePerson
// that moved (a revision conflict, or a re-read): the rest of the approved
// plan is not re-planned, and the run ends partial.
func (rc *runContext) movedDuringApproval(ctx context.Context, res *Result, cause error) (*Result, error) {
	rc.run.Error = fmt.Sprintf("LivePerson changed while plan %d was being applied (%v); the rest of the approved plan was not applied "+
		"and is not re-planned: run skillsync plan again", rc.approval.RunID, cause)
	rc.log.Warn("LivePerson changed during the approved apply; stopping", "approved_run", rc.approval.RunID, "error", cause)
	return rc.finish(ctx, res, store.OutcomePartial, nil)
}

// storePlan keeps what the plan of a dry run or a refused run was made
// from, so that a person can approve it (skillsync apply).
func (rc *runContext) storePlan(ctx context.Context, res *Result) {
	run := res.Run
	keep := run.Outcome == store.OutcomeRefused ||
		run.Mode == store.ModePlan && (run.Outcome == store.OutcomePlanned || run.Outcome == store.OutcomeNoChanges)
	if rc.approval != nil || res.Plan == nil || !keep {
		return
	}
	sp := rc.stored
	sp.RunID, sp.CreatedAt = run.ID, rc.deps.Now()
	sp.SkillsRevision, sp.UsersRevision = res.Plan.Revision, res.Plan.UsersRevision
	if run.Outcome == store.OutcomeRefused {
		sp.Refusal = res.Refusal
	}
	if err := rc.deps.Store.SavePlan(context.WithoutCancel(ctx), sp); err != nil {
		rc.log.Error("the run's plan could not be stored for approval", "error", err)
	}
}

// releaseHeld makes the removals the removal cap held: the approval of a
// run the cap refused overrides it once.
func (a *AssignmentPlan) releaseHeld() {
	for i := range a.Users {
		u := &a.Users[i]
		if len(u.HeldUnassign) > 0 {
			u.Unassign, u.HeldUnassign = append(u.Unassign, u.HeldUnassign...), nil
		}
	}
	a.HeldBack, a.Refusal = 0, ""
}
