package sync

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// Defaults of the sync and assignments sections (DefaultSyncConfig,
// DefaultAssignmentsConfig).
const (
	DefaultMinRecords           = 1
	DefaultMaxActiveDropPercent = 20
	DefaultMaxDeletes           = 10
	DefaultMaxDeletePercent     = 25
	DefaultDeleteAfterRuns      = 2
	DefaultMaxConflictRetries   = 3
	DefaultMaxChangesPercent    = 20
)

// DefaultSyncConfig is the sync section with every default. Decode a
// configuration on top of it: keys the file leaves out keep their default,
// and every value the file sets is used as written (0 included).
func DefaultSyncConfig() SyncConfig {
	return SyncConfig{
		Policy:               PolicySync,
		MinRecords:           DefaultMinRecords,
		MaxActiveDropPercent: DefaultMaxActiveDropPercent,
		MaxDeletes:           DefaultMaxDeletes,
		MaxDeletePercent:     DefaultMaxDeletePercent,
		DeleteAfterRuns:      DefaultDeleteAfterRuns,
		MaxConflictRetries:   DefaultMaxConflictRetries,
		LookaheadDays:        DefaultLookaheadDays,
		PlanMaxAge:           DefaultPlanMaxAge,
	}
}

// DefaultAssignmentsConfig is the assignments section with every default
// (disabled).
func DefaultAssignmentsConfig() AssignmentsConfig {
	return AssignmentsConfig{Match: "email", MaxChangesPercent: DefaultMaxChangesPercent, KeepUnmatched: true}
}

// WithDefaults fills only the policy when it is empty (an empty policy has
// no meaning of its own). Numbers are never defaulted here: a 0 is a
// setting (see SyncConfig); start from DefaultSyncConfig instead.
func (c SyncConfig) WithDefaults() SyncConfig {
	c.Policy = cmp.Or(c.Policy, PolicySync)
	return c
}

// Validate reports every problem with its key path.
func (c SyncConfig) Validate() []error {
	var errs []error
	switch c.Policy {
	case "", PolicySync, PolicyUpsertOnly, PolicyCreateOnly:
	default:
		errs = append(errs, fmt.Errorf("sync.policy: %q is not one of sync, upsert-only, create-only", c.Policy))
	}
	if c.MaxActiveDropPercent > 100 {
		errs = append(errs, fmt.Errorf("sync.max_active_drop_percent: %v is more than 100", c.MaxActiveDropPercent))
	}
	if c.MaxDeletePercent > 100 {
		errs = append(errs, fmt.Errorf("sync.max_delete_percent: %v is more than 100", c.MaxDeletePercent))
	}
	if c.DeleteAfterRuns < 1 {
		errs = append(errs, fmt.Errorf("sync.delete_after_runs: %d; it must be at least 1 (1 deletes a skill in the first apply run without it; to stop deletes, set sync.max_deletes: 0 or sync.policy: upsert-only)", c.DeleteAfterRuns))
	}
	if c.MinRecords < 0 {
		errs = append(errs, fmt.Errorf("sync.min_records: %d is negative; 0 means no minimum", c.MinRecords))
	}
	if c.PlanMaxAge < 0 {
		errs = append(errs, fmt.Errorf("sync.plan_max_age: %s is negative", c.PlanMaxAge))
	}
	if c.MaxConflictRetries < 0 {
		errs = append(errs, fmt.Errorf("sync.max_conflict_retries: %d is negative; 0 means none", c.MaxConflictRetries))
	}
	for i, f := range c.RequiredFields {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, fmt.Errorf("sync.required_fields[%d]: empty field name", i))
		}
	}
	return errs
}

// WithDefaults fills only the match field when it is empty; numbers and
// keep_unmatched are used as set (start from DefaultAssignmentsConfig).
func (c AssignmentsConfig) WithDefaults() AssignmentsConfig {
	c.Match = cmp.Or(c.Match, "email")
	return c
}

// Validate reports every problem with its key path.
func (c AssignmentsConfig) Validate() []error {
	var errs []error
	switch c.Match {
	case "", "email", "login_name":
	default:
		errs = append(errs, fmt.Errorf("assignments.match: %q is not one of email, login_name", c.Match))
	}
	if c.MaxChangesPercent > 100 {
		errs = append(errs, fmt.Errorf("assignments.max_changes_percent: %v is more than 100", c.MaxChangesPercent))
	}
	for i, id := range c.AgentProfileIDs {
		if id <= 0 {
			errs = append(errs, fmt.Errorf("assignments.agent_profile_ids[%d]: %d is not a LivePerson profile id (a positive number)", i, id))
		}
	}
	return errs
}

// Health is the verdict of the source-health guard, with its numbers.
type Health struct {
	Records        int
	Active         int
	PreviousActive int     // active records of the last accepted snapshot (0: none)
	DropPercent    float64 // active headcount drop against it
	// Refusal is empty when the feed is healthy; otherwise it says why the
	// run is refused, with the numbers and the setting that refused it.
	Refusal string
}

// CheckHealth applies the source-health guard to a snapshot before any
// planning: a feed that is too small, lost too many active people since
// the last accepted snapshot, or lacks required fields is refused.
func CheckHealth(snap *hrsource.Snapshot, last *store.Snapshot, cfg SyncConfig) Health {
	h := Health{Records: len(snap.Records)}
	for i := range snap.Records {
		if snap.Records[i].Active {
			h.Active++
		}
	}
	var reasons []string
	if cfg.MinRecords > 0 && h.Records < cfg.MinRecords {
		reasons = append(reasons, fmt.Sprintf("the HR feed has %d records, fewer than sync.min_records (%d)", h.Records, cfg.MinRecords))
	}
	if last != nil && last.Active > 0 {
		h.PreviousActive = last.Active
		h.DropPercent = float64(last.Active-h.Active) * 100 / float64(last.Active)
		if cfg.MaxActiveDropPercent >= 0 && h.DropPercent > cfg.MaxActiveDropPercent {
			reasons = append(reasons, fmt.Sprintf("active headcount fell from %d to %d (%.1f%%), more than sync.max_active_drop_percent (%v%%) against the last accepted snapshot",
				last.Active, h.Active, h.DropPercent, cfg.MaxActiveDropPercent))
		}
	}
	for _, field := range cfg.RequiredFields {
		missing, examples := 0, []string(nil)
		for i := range snap.Records {
			if recordField(&snap.Records[i], field) == "" {
				missing++
				if len(examples) < 5 {
					examples = append(examples, describeRecord(&snap.Records[i]))
				}
			}
		}
		if missing > 0 {
			reasons = append(reasons, fmt.Sprintf("%d of %d records lack required field %q (sync.required_fields), e.g. %s",
				missing, h.Records, field, strings.Join(examples, ", ")))
		}
	}
	if len(reasons) > 0 {
		h.Refusal = "source health: " + strings.Join(reasons, "; ") + "; fix the feed or the setting, then run again"
	}
	return h
}

func recordField(r *hrsource.Record, field string) string {
	switch field {
	case "id":
		return r.ID
	case "email":
		return r.Email
	case "login_name":
		return r.LoginName
	case "name":
		return r.Name
	}
	v, _ := r.Attr(field)
	return strings.TrimSpace(v)
}

func describeRecord(r *hrsource.Record) string {
	switch {
	case r.ID != "" && r.Origin != "":
		return fmt.Sprintf("record %s (%s)", r.ID, r.Origin)
	case r.ID != "":
		return "record " + r.ID
	}
	return r.Origin
}

// DeleteBudget is how many deletes one run may make: at most max_deletes
// and at most max_delete_percent of the owned skills. A positive
// percentage allows at least one delete, so that a small account still
// converges; 0 in either setting allows none; a negative setting disables
// that limit.
func DeleteBudget(cfg SyncConfig, owned int) int {
	budget := math.MaxInt
	if cfg.MaxDeletes >= 0 {
		budget = cfg.MaxDeletes
	}
	if cfg.MaxDeletePercent >= 0 {
		pct := int(math.Floor(float64(owned) * cfg.MaxDeletePercent / 100))
		if pct < 1 && owned > 0 && cfg.MaxDeletePercent > 0 {
			pct = 1
		}
		budget = min(budget, pct)
	}
	return budget
}

// ApplyDeleteBudget turns the deletes beyond the budget back into pending
// deletes (those missing longest are deleted first). Creates and updates
// are not affected.
func ApplyDeleteBudget(p *Plan, budget int) (deferred int) {
	var idx []int
	for i, c := range p.Changes {
		if c.Action == ActionDelete {
			idx = append(idx, i)
		}
	}
	if len(idx) <= budget {
		return 0
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ca, cb := p.Changes[a], p.Changes[b]
		return cmp.Or(cmp.Compare(ca.FirstMissingRun, cb.FirstMissingRun), strings.Compare(ca.Skill, cb.Skill))
	})
	for _, i := range idx[budget:] {
		c := &p.Changes[i]
		c.Action = ActionPendingDelete
		c.Reason = fmt.Sprintf("due for deletion, held back by the delete budget (%d deletes this run; sync.max_deletes, sync.max_delete_percent)", budget)
		deferred++
	}
	return deferred
}

// The delete guard.
//
// A skill skillsync manages is deleted only once every step below lets it,
// in this order, each deciding about the deletes the ones before left. The
// first three are the rules' (BuildPlan calls dueDeletes: they decide
// which skills are due at all, before the assignments are planned, which
// hand out only what stays); the last three need the account (GuardDeletes,
// after the assignments, whose users they look at):
//
//  1. The policy: under upsert-only and create-only nothing is deleted and
//     no grace is counted.
//  2. Held by the rule's problems: while the rule that produced the skill
//     skips records with problems, the skill may look unwanted only because
//     its records failed to evaluate; pending, grace count not advanced.
//  3. The grace count: deleted after sync.delete_after_runs consecutive
//     apply runs without it; pending until then.
//  4. HoldReferenced: a user or another skill (a field that names skills)
//     still holds the skill. First, so that such skills do not use up the
//     budget. The grace count advances.
//  5. HoldBudget: beyond sync.max_deletes and sync.max_delete_percent; the
//     skills missing longest are deleted first. The grace count advances.
//  6. HoldUsersUnreadable: LivePerson refused to list users, so whether an
//     agent holds a skill is unknown and every delete left waits; the grace
//     count does not advance.

// dueDeletes is the rules' part of the delete guard (steps 1 to 3 above)
// for the owned skills no desired skill claims, live in current (by id),
// in the order given: the changes that delete them or keep them pending.
func dueDeletes(in PlanInput, unclaimed []store.OwnedSkill, current map[int64]*liveperson.Skill) []Change {
	if cmp.Or(in.Policy, PolicySync) != PolicySync || len(unclaimed) == 0 {
		return nil // 1: the policy deletes nothing, and counts no grace
	}
	problems := problemCounter(in.Problems)
	pending := make(map[int64]store.PendingDelete, len(in.Pending))
	for _, pd := range in.Pending {
		pending[pd.SkillID] = pd
	}
	threshold := max(in.DeleteAfterRuns, 1)
	out := make([]Change, 0, len(unclaimed))
	for _, row := range unclaimed {
		cur := current[row.SkillID]
		runs, first := 1, in.RunID
		pd, wasPending := pending[row.SkillID]
		if wasPending {
			runs, first = pd.ConsecutiveMissingRuns+1, pd.FirstMissingRun
		}
		c := Change{Skill: cur.Name, SkillID: row.SkillID, Rule: row.RuleID, Key: row.RuleKey, Before: cur,
			FirstMissingRun: first, MissingRuns: runs}
		switch n := problems(row.RuleID, row.RuleKey, cur.Name); {
		case n > 0 && row.RuleID != "":
			// 2: bad input must never lead to a write. The skill waits,
			// and its grace count stays where it was.
			c.Action, c.graceHeld = ActionPendingDelete, true
			c.MissingRuns = pd.ConsecutiveMissingRuns // 0 when it was not pending
			c.Reason = fmt.Sprintf("no rule has produced it since run %d, but rule %s skipped %d records with problems this run; not deleted, and its grace count not advanced, until the rule evaluates every record", first, row.RuleID, n)
		case runs >= threshold:
			// 3: its grace is over.
			c.Action = ActionDelete
			c.Reason = fmt.Sprintf("no rule has produced it since run %d (missing in %d consecutive apply runs, delete_after_runs %d)", first, runs, threshold)
		default:
			c.Action = ActionPendingDelete
			c.Reason = fmt.Sprintf("no rule has produced it since run %d; deleted after %d consecutive apply runs without it (%d so far)", first, threshold, runs)
		}
		out = append(out, c)
	}
	return out
}

// DeleteHold names a hold of the delete guard.
type DeleteHold string

// Holds of the delete guard that GuardDeletes applies, in its order (steps
// 4 to 6 above).
const (
	HoldReferenced      DeleteHold = "referenced"
	HoldBudget          DeleteHold = "budget"
	HoldUsersUnreadable DeleteHold = "users_unreadable"
)

// GuardInput is what the delete guard needs beyond the plan.
type GuardInput struct {
	// Current and Users are the account as read (Users nil when not read).
	Current []liveperson.Skill
	Users   []liveperson.User
	// Budget is DeleteBudget's answer for this run.
	Budget int
	// UsersUnreadable is LivePerson's refusal to list users (401 or 403),
	// nil when they were read or not needed.
	UsersUnreadable error
}

// HeldDelete is a delete the guard turned into a pending delete, with the
// hold that did and the reason the plan shows.
type HeldDelete struct {
	SkillID int64
	Skill   string
	Hold    DeleteHold
	Reason  string
}

// GuardDeletes applies the account's holds of the delete guard (steps 4
// to 6 above) to p's deletes, in that order, and returns the deletes held, in hold order then plan
// order. It is pure: it changes p and nothing else.
func GuardDeletes(p *Plan, in GuardInput) []HeldDelete {
	var held []HeldDelete
	collect := func(hold DeleteHold, before map[int]bool) {
		for i, c := range p.Changes {
			if before[i] && c.Action != ActionDelete {
				held = append(held, HeldDelete{SkillID: c.SkillID, Skill: c.Skill, Hold: hold, Reason: c.Reason})
			}
		}
	}
	steps := []struct {
		hold  DeleteHold
		apply func()
	}{
		{HoldReferenced, func() { HoldReferencedDeletes(p, in.Current, in.Users) }},
		{HoldBudget, func() { ApplyDeleteBudget(p, in.Budget) }},
		{HoldUsersUnreadable, func() {
			if in.UsersUnreadable != nil {
				holdUnreadableUsers(p, in.UsersUnreadable)
			}
		}},
	}
	for _, s := range steps {
		deletes := map[int]bool{}
		for i, c := range p.Changes {
			if c.Action == ActionDelete {
				deletes[i] = true
			}
		}
		if len(deletes) == 0 {
			break
		}
		s.apply()
		collect(s.hold, deletes)
	}
	return held
}

// HoldReferencedDeletes (step 4 of the delete guard) keeps a skill from
// being deleted while something skillsync does not change in this run
// still holds it: a user (any user when users are known: managed ones
// after this run's assignments), or another skill's transfer list or
// fallback (the skill fields that refer to skills,
// liveperson.SkillField.SkillRefs). The change becomes a pending delete
// that says what holds the skill.
func HoldReferencedDeletes(p *Plan, current []liveperson.Skill, users []liveperson.User) int {
	deleting := map[int64]bool{}
	for _, c := range p.Changes {
		if c.Action == ActionDelete {
			deleting[c.SkillID] = true
		}
	}
	if len(deleting) == 0 {
		return 0
	}
	holders := map[int64][]string{}
	add := func(id int64, who string) {
		if deleting[id] {
			holders[id] = append(holders[id], who)
		}
	}
	// Post-run state of skills we update.
	after := map[int64]*liveperson.Skill{}
	for _, c := range p.Changes {
		if c.Action == ActionUpdate && c.After != nil {
			after[c.SkillID] = c.After
		}
	}
	// The skill fields that name other skills (transfer list, fallback).
	var refFields []*liveperson.SkillField
	fields := liveperson.SkillFields()
	for i := range fields {
		if fields[i].SkillRefs {
			refFields = append(refFields, &fields[i])
		}
	}
	// In id order, so that the reasons do not depend on LivePerson's lists.
	current = slices.SortedFunc(slices.Values(current), func(a, b liveperson.Skill) int { return cmp.Compare(a.ID, b.ID) })
	users = slices.SortedFunc(slices.Values(users), func(a, b liveperson.User) int { return cmp.Compare(a.ID, b.ID) })
	for i := range current {
		s := &current[i]
		if s.Deleted || deleting[s.ID] {
			continue
		}
		if a, ok := after[s.ID]; ok {
			s = a
		}
		for _, f := range refFields {
			for _, id := range f.Refs(s) {
				add(id, fmt.Sprintf("skill %d %q (%s)", s.ID, s.Name, f.RefLabel))
			}
		}
	}
	var unassigned map[int64]map[int64]bool
	if p.Assignments != nil {
		unassigned = map[int64]map[int64]bool{}
		for _, u := range p.Assignments.Users {
			for _, r := range u.Unassign {
				if unassigned[u.UserID] == nil {
					unassigned[u.UserID] = map[int64]bool{}
				}
				unassigned[u.UserID][r.SkillID] = true
			}
		}
	}
	for _, u := range users {
		if u.Deleted {
			continue
		}
		managed := p.Assignments != nil && p.Assignments.managed[u.ID]
		for _, id := range u.SkillIDs {
			if managed && unassigned[u.ID][id] {
				continue
			}
			who := fmt.Sprintf("user %d %s", u.ID, cmp.Or(u.LoginName, u.Email))
			switch {
			case p.Assignments != nil && p.Assignments.skippedUsers[u.ID]:
				who += " (not written: HR cannot fill the fields LivePerson masks)"
			case !managed:
				who += " (not managed by skillsync)"
			}
			add(id, who)
		}
	}
	held := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != ActionDelete || len(holders[c.SkillID]) == 0 {
			continue
		}
		h := holders[c.SkillID]
		more := ""
		if len(h) > maxExamples {
			more = fmt.Sprintf(" and %d more", len(h)-maxExamples)
			h = h[:maxExamples]
		}
		c.Action = ActionPendingDelete
		c.Reason = fmt.Sprintf("due for deletion but still held by %s%s; deleted once nothing holds it", strings.Join(h, ", "), more)
		held++
	}
	return held
}

// holdUnreadableUsers turns the plan's deletes into pending deletes whose
// grace count this run does not advance, because the users could not be
// read (the credentials lack Users read): without them skillsync cannot
// tell whether an agent still holds a skill, and deleting a held skill is
// what the users read is there to prevent. The plan says why and what to
// grant. It returns how many deletes it held.
func holdUnreadableUsers(p *Plan, cause error) int {
	n := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != ActionDelete {
			continue
		}
		c.Action, c.graceHeld = ActionPendingDelete, true
		// Back to the count before this run: 0 when it was not pending,
		// and then NextPending does not start its grace.
		c.MissingRuns = max(c.MissingRuns-1, 0)
		c.Reason = "due for deletion, but held (grace count not advanced): LivePerson refused to list users, so whether an agent still holds the skill is unknown; " + c.Reason
		n++
	}
	if n == 0 {
		return 0
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf(
		"%d deletes held as pending (grace not advanced): LivePerson answered %d to GET users, so the credentials lack Users read, "+
			"which skillsync needs before deleting a skill (it does not delete a skill an agent still holds). "+
			"Grant Users read: for an OAuth 1.0 API key the Administration → Users (Read) permission, for OAuth 2.0 the users.read scope "+
			"(or users.external), for a login user a profile that may view users. Nothing else in the run is affected.", n, deniedStatus(cause)))
	return n
}

// deniedStatus is the HTTP status of a refusal (403 when it carries none).
func deniedStatus(err error) int {
	var apiErr *liveperson.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	return 403
}
