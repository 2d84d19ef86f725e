package sync

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// Action is the kind of a planned change.
type Action string

// Actions. Updates include renames, drift repairs and adoptions (see the
// flags on Change); pending deletes and unmanaged conflicts are reported but
// make no write.
const (
	ActionCreate            Action = "create"
	ActionUpdate            Action = "update"
	ActionDelete            Action = "delete"
	ActionPendingDelete     Action = "pending_delete"
	ActionUnmanagedConflict Action = "unmanaged_conflict"
)

// maxMemberIDs is how many member ids a change carries as provenance.
const maxMemberIDs = 5

// FieldDiff is one changed field of an update, in the configuration's
// vocabulary (max_wait_time, transfer_to by skill name, ...).
type FieldDiff struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Change is one planned change to one skill, with its provenance.
type Change struct {
	Action  Action `json:"action"`
	Skill   string `json:"skill"`
	SkillID int64  `json:"skill_id,omitempty"`
	// Fields lists the changed fields (for creates: the fields set).
	Fields []string    `json:"fields"`
	Diff   []FieldDiff `json:"diff,omitempty"`
	// Rule is the rule behind the change ("" for none, e.g. a skill only
	// an earlier run's registry row explains).
	Rule string `json:"rule"`
	Key  string `json:"key,omitempty"`
	// Members is the number of active records behind the skill, MemberIDs
	// the first few of them.
	Members   int      `json:"members"`
	MemberIDs []string `json:"member_ids,omitempty"`

	RenamedFrom string `json:"renamed_from,omitempty"`
	Drift       bool   `json:"drift,omitempty"`
	Adopt       bool   `json:"adopt,omitempty"`
	// CreatedByRun is set on a takeover: the earlier run that created the
	// skill but stopped before LivePerson's answer arrived (Adopt is set
	// too when the change is an update).
	CreatedByRun int64 `json:"created_by_run,omitempty"`
	Recreate     bool  `json:"recreate,omitempty"`
	// Reason explains deletes, pending deletes, conflicts and recreations.
	Reason string `json:"reason,omitempty"`
	// RenameTo is, on a delete, the name the skill is given just before
	// it is deleted, to free its name (FreeDeletedNames).
	RenameTo        string `json:"rename_to,omitempty"`
	FirstMissingRun int64  `json:"first_missing_run,omitempty"`
	MissingRuns     int    `json:"missing_runs,omitempty"`

	// Before and After are the full skill objects of an update (After is
	// Before with skillsync's fields set, so the PUT sends every other field
	// back unchanged). A create has only After.
	Before *liveperson.Skill `json:"-"`
	After  *liveperson.Skill `json:"-"`
	// TransferTo are the desired transfer targets by name; ids are resolved
	// again at apply time, when skills created by this run have ids.
	TransferTo []string `json:"-"`
	// ReplacesID is the registry row a recreate supersedes.
	ReplacesID int64 `json:"-"`
	// Rekey is set when the registry row must move to this change's key.
	Rekey bool `json:"-"`
	// managed are the fields skillsync sets on this skill: what it
	// remembers having written after a create or update.
	managed []string
	// graceHeld marks a pending delete whose grace count this run does not
	// advance (its rule skipped records with problems).
	graceHeld bool
	// freesName marks the rename FreeDeletedNames plans before a delete:
	// part of the delete (RenameTo), not an update of its own in the
	// summary, the renderings or the run's counts.
	freesName bool
	// afterRenames marks a create whose name an owned skill gives up in
	// this run's updates (two groups swapping names): the applier sends it
	// after the updates.
	afterRenames bool
}

// Summary counts a plan's changes (the JSON contract's "summary"). It is
// the store's type, which a run's counts (store.Counts) extend with the
// operations that failed: one set of counts from plan to run history.
type Summary = store.Summary

// Plan is the explained difference between the desired and the current
// skills of the account. It is a value: building it does no I/O.
type Plan struct {
	RunID     int64
	Policy    Policy
	Changes   []Change
	Unchanged int
	// Problems are records the rules skipped. They do not block the plan,
	// but they hold the deletes of their rule's skills (pending, grace not
	// advanced): bad input never leads to a delete.
	Problems []RecordProblem
	// Warnings are plan-level notes (unknown transfer targets, owned
	// skills missing from LivePerson's list, ...).
	Warnings []string
	// RegistryFixes are ownership rows to rewrite without any LivePerson
	// write (a skill re-keyed under an unchanged name).
	RegistryFixes []store.OwnedSkill
	// Forget are registry rows of skills that no longer exist in
	// LivePerson and are no longer desired.
	Forget []int64
	// Assignments is the users section (issue 7); nil when disabled.
	Assignments *AssignmentPlan
	// Dated is the effective dating (as_of, upcoming); nil when hr.fields
	// maps no date.
	Dated *Dated
	// StateFixes are written-state rows to store without any LivePerson
	// write: unchanged skills whose remembered state is missing or stale.
	StateFixes map[int64]SkillState
	// Takeovers are registry rows for skills that earlier runs created
	// without learning it (the answer to the create was lost with their
	// process): written before anything else, so that the rest of the
	// plan treats them as owned.
	Takeovers []store.OwnedSkill
	// Unconfirmed says what became of each create of an earlier run that
	// never got its answer (PlanInput.Unconfirmed), in journal order.
	Unconfirmed []CreateResolution
	// Revision is the account revision the skills list the plan was made
	// from was read at; "" when LivePerson sent none. Not part of the
	// plan's JSON (yet).
	Revision string
	// UsersRevision is the revision of the users list the plan was made
	// from, "" when users were not read (or LivePerson sent none). When
	// both are known they are equal: the runner reads until they agree.
	UsersRevision string

	// carriers maps the NameKey of each desired skill to the skill that
	// carries it after the run (assignments hand out that skill).
	carriers map[string]carrier
}

// writeRevision is the revision the plan's first write sends as If-Match:
// that of the lists it was made from (equal when both are known).
func (p *Plan) writeRevision() string {
	return cmp.Or(p.Revision, p.UsersRevision)
}

// carrier is the skill that serves a desired skill after the run: an
// existing one (id) or one this run creates (create; its id is known at
// apply time).
type carrier struct {
	id     int64
	create bool
}

// Resolutions of a create an earlier run sent without learning its outcome.
const (
	// ResolutionTakenOver: the skill exists, unowned: skillsync made it and
	// takes it into the registry.
	ResolutionTakenOver = "taken_over"
	// ResolutionAbsent: no live skill has the name: the create did not
	// happen (or the skill was deleted since).
	ResolutionAbsent = "absent"
	// ResolutionManaged: a skill under the name is managed already.
	ResolutionManaged = "managed"
	// ResolutionNotSent: the run stopped before the request left, so a
	// skill under that name is not ours.
	ResolutionNotSent = "not_sent"
	// ResolutionLeft: the skill exists but its registry key belongs to
	// another live skill; it is left alone.
	ResolutionLeft = "left"
	// ResolutionNotOurs: a skill has the name, but not every field the
	// create sent (madeBy): someone else's, left unmanaged (an unmanaged
	// conflict whose reason says why).
	ResolutionNotOurs = "not_ours"
	// ResolutionUnseen: no live skill has the name in a skill list that
	// is not provably later than the create (read at a revision not past
	// the one the create was sent under): the list may lag behind it. The
	// journal row stays sent for a later run to settle.
	ResolutionUnseen = "unseen"
)

// CreateResolution is what a run decided about a create that an earlier
// run journaled but never saw answered.
type CreateResolution struct {
	OpID  int64  `json:"op_id"`
	RunID int64  `json:"run_id"`
	Skill string `json:"skill"`
	// SkillID is the live skill under that name (taken over or managed).
	SkillID    int64  `json:"skill_id,omitempty"`
	Resolution string `json:"resolution"`
	Note       string `json:"note"`

	// proof, for an absent create judged by comparing revisions, is the
	// revision of the list that did not show it: the row is settled only
	// once a write sent at that revision succeeds (see absentproof.go).
	proof string
}

// PlanInput is everything the planner looks at.
type PlanInput struct {
	Desired []DesiredSkill
	// Current are the account's skills, deleted ones included (names of
	// deleted skills are checked before creating).
	Current  []liveperson.Skill
	Registry []store.OwnedSkill
	// Pending is the delete-grace state left by earlier apply runs.
	Pending []store.PendingDelete
	// Written is what skillsync last wrote to each owned skill. For a
	// skill without one (registered before the store kept it), and for
	// all when Written is nil, drift is detected by name only.
	Written         map[int64]SkillState
	Policy          Policy
	AdoptExisting   bool
	DeleteAfterRuns int
	RunID           int64
	// Problems are the records the rules skipped. While a rule reports
	// any, the deletes of its skills are held: a skill may look no longer
	// produced only because the records behind it failed to evaluate.
	Problems []RecordProblem
	// Skipped lists every record each rule skipped (DesiredState.Skipped):
	// assignments keep those records' users' skills of the rule.
	Skipped map[string][]string
	// Gone are owned skills absent from Current that LivePerson confirmed
	// missing (GET /skills/{id} answered 404). Only they, and skills seen
	// with deleted:true, are forgotten or created again: an owned skill
	// merely missing from a list (a bad read) is kept and reported.
	Gone map[int64]bool
	// Unconfirmed are creates that earlier, finished runs journaled as
	// intended or sent and never saw answered (store.UnconfirmedCreates):
	// a live, unowned skill under such a name is taken over instead of
	// being reported as an unmanaged conflict.
	Unconfirmed []store.Operation
	// Revision is the account revision Current was read at ("" unknown):
	// an unconfirmed create is settled as not made only from a list read
	// after the revision it was sent under.
	Revision string
}

// Summary counts the plan's changes.
func (p *Plan) Summary() Summary {
	s := Summary{Unchanged: p.Unchanged}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			if !c.freesName {
				s.Update++
			}
		case ActionDelete:
			s.Delete++
		case ActionPendingDelete:
			s.PendingDelete++
		case ActionUnmanagedConflict:
			s.UnmanagedConflict++
		}
	}
	if p.Assignments != nil {
		s.Assign, s.Unassign = p.Assignments.Counts()
	}
	return s
}

// HasChanges reports whether applying the plan would change anything that
// matters outside skillsync's own bookkeeping: a write to LivePerson
// (create, update with field changes, delete, user assignment), taking
// ownership of a skill (an adoption or a takeover, even without field
// changes: from then on skillsync renames, repairs and deletes it), or a
// pending delete whose grace count the run advances. Registry and state
// fixes and forgotten rows only update skillsync's own tables about skills
// it owns already: they are not changes (a plan of only those reads "no
// changes", and --detailed-exitcode exits 0).
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate, ActionDelete:
			return true
		case ActionUpdate:
			if len(c.Diff) > 0 || c.Adopt {
				return true
			}
		case ActionPendingDelete:
			if !c.graceHeld {
				return true
			}
		}
	}
	if p.Assignments != nil {
		if a, u := p.Assignments.Counts(); a+u > 0 {
			return true
		}
	}
	return false
}

// NextPending is the delete-grace state an apply run leaves when every
// delete in the plan succeeds: the skills still pending, with their counts.
func (p *Plan) NextPending() []store.PendingDelete {
	var out []store.PendingDelete
	for _, c := range p.Changes {
		if c.Action == ActionPendingDelete && !(c.graceHeld && c.MissingRuns == 0) {
			// A held skill that was not pending yet does not start its
			// grace in a run that could not tell whether it is wanted.
			out = append(out, store.PendingDelete{SkillID: c.SkillID, SkillName: c.Skill,
				FirstMissingRun: c.FirstMissingRun, ConsecutiveMissingRuns: c.MissingRuns})
		}
	}
	return out
}

// BuildPlan compares desired skills with the account. It is pure and
// deterministic: the same input gives the same plan, sorted by skill name.
// Its steps: index the account and the registry, take over the skills of
// earlier runs' lost creates, pick the owned skill each desired skill
// keeps, decide each desired skill (update, create, adopt, conflict),
// decide the owned skills nothing claims (forget, keep, or the rules'
// part of the delete guard), then explain takeovers and apply the policy.
func BuildPlan(in PlanInput) *Plan {
	pl := newPlanner(in)
	pl.takenOver, pl.disowned = takeOver(pl.p, in.Unconfirmed, in.Revision, pl.liveByName, pl.owned, pl.ownedByKey, pl.gone)
	pl.indexOwnedKeys()
	pl.resolver = newTransferResolver(in.Current, in.Desired)
	pl.pickKept()
	for i := range in.Desired {
		pl.planDesired(i)
	}
	pl.planUnclaimed()
	pl.explainTakeovers()
	p := pl.p
	p.Warnings = append(p.Warnings, pl.resolver.warnings()...)
	applyPolicy(p)
	sortChanges(p.Changes)
	return p
}

// planner is the state of one BuildPlan: the plan being built and the
// indexes of its input.
type planner struct {
	in PlanInput
	p  *Plan

	byID   map[int64]*liveperson.Skill
	byName map[string][]*liveperson.Skill // by NameKey, lowest id first
	// owned and ownedByKey are the registry's active rows (plus the skills
	// taken over), by skill id and by rule key; ownedByKeyID groups them
	// by the key's identity (keyIdentity).
	owned        map[int64]store.OwnedSkill
	ownedByKey   map[string]store.OwnedSkill
	ownedByKeyID map[string][]store.OwnedSkill
	// desiredKeys are the identities of every key the rules produce.
	desiredKeys map[string]bool
	resolver    *transferResolver
	// takenOver are the skills taken over (id → the run that created
	// them); disowned the skills under a lost create's name that are not
	// provably ours, with why.
	takenOver map[int64]int64
	disowned  map[int64]string

	// kept is the owned skill each desired skill keeps (nil: none), and
	// rekey whether it moves to the desired skill's key (pickKept).
	kept  []*store.OwnedSkill
	rekey []bool
	// renamedAway are the owned skills this run renames, by the NameKey
	// they give up.
	renamedAway map[string]int64
	claimed     map[int64]bool
}

// newPlanner indexes the account and the registry.
func newPlanner(in PlanInput) *planner {
	pl := &planner{in: in,
		p: &Plan{RunID: in.RunID, Policy: cmp.Or(in.Policy, PolicySync), Problems: in.Problems, carriers: map[string]carrier{}}}
	pl.byID = make(map[int64]*liveperson.Skill, len(in.Current))
	pl.byName = make(map[string][]*liveperson.Skill, len(in.Current))
	for i := range in.Current {
		s := &in.Current[i]
		pl.byID[s.ID] = s
		nk := nameKey(s.Name)
		pl.byName[nk] = append(pl.byName[nk], s)
	}
	// Several skills may share a name identity (LivePerson compares names
	// less strictly): the lowest id answers, whatever the list's order.
	for _, ss := range pl.byName {
		slices.SortFunc(ss, func(a, b *liveperson.Skill) int { return cmp.Compare(a.ID, b.ID) })
	}
	pl.owned = make(map[int64]store.OwnedSkill, len(in.Registry))
	pl.ownedByKey = make(map[string]store.OwnedSkill, len(in.Registry))
	for _, r := range in.Registry {
		if r.ReleasedAt != nil {
			continue
		}
		pl.owned[r.SkillID] = r
		pl.ownedByKey[r.RuleKey] = r
	}
	// Keys compare by their values' name identity: "Café" typed in two
	// Unicode forms, or "Sales" and "sales", are one group's keys.
	pl.desiredKeys = make(map[string]bool, len(in.Desired))
	for _, d := range in.Desired {
		for _, k := range keysOf(&d) {
			pl.desiredKeys[keyIdentity(k)] = true
		}
	}
	pl.claimed = make(map[int64]bool, len(in.Registry))
	pl.renamedAway = map[string]int64{}
	return pl
}

// liveByName is the live skill of a name (by NameKey), or nil.
func (pl *planner) liveByName(name string) *liveperson.Skill {
	for _, s := range pl.byName[nameKey(name)] {
		if !s.Deleted {
			return s
		}
	}
	return nil
}

// deletedByName is a deleted skill of a name (by NameKey), or nil.
func (pl *planner) deletedByName(name string) *liveperson.Skill {
	for _, s := range pl.byName[nameKey(name)] {
		if s.Deleted {
			return s
		}
	}
	return nil
}

// gone reports whether LivePerson says the skill no longer exists
// (deleted:true, or a 404 to GET).
func (pl *planner) gone(id int64) bool {
	cur := pl.byID[id]
	return cur != nil && cur.Deleted || cur == nil && pl.in.Gone[id]
}

// missing reports whether the skill is absent from the list without
// proof that it is gone.
func (pl *planner) missing(id int64) bool { return pl.byID[id] == nil && !pl.in.Gone[id] }

func (pl *planner) reportMissing(row store.OwnedSkill) {
	pl.p.Warnings = append(pl.p.Warnings, fmt.Sprintf("skill %d %q, which skillsync manages, is missing from LivePerson's skill list but was not confirmed deleted; left as it is this run", row.SkillID, row.Name))
}

// indexOwnedKeys groups the owned rows by their key's identity (after
// takeOver, which adds the skills it takes over).
func (pl *planner) indexOwnedKeys() {
	pl.ownedByKeyID = make(map[string][]store.OwnedSkill, len(pl.ownedByKey))
	for _, k := range slices.Sorted(maps.Keys(pl.ownedByKey)) {
		id := keyIdentity(k)
		pl.ownedByKeyID[id] = append(pl.ownedByKeyID[id], pl.ownedByKey[k])
	}
}

// pickKept picks the owned skill each desired skill keeps (defect 21.1:
// of the keys that produce a name, the owned skill already carrying it
// wins), and points transfer_to names at the skills carrying them after
// the run.
func (pl *planner) pickKept() {
	pl.kept = make([]*store.OwnedSkill, len(pl.in.Desired))
	pl.rekey = make([]bool, len(pl.in.Desired))
	for i := range pl.in.Desired {
		d := &pl.in.Desired[i]
		pl.kept[i] = pickOwned(d, pl.ownedByKeyID, pl.byID)
		if r := pl.kept[i]; r == nil || !sameName(liveName(pl.byID[r.SkillID]), d.Name) {
			// An owned skill already carrying the name under a key no rule
			// produces any more beats renaming another one onto it.
			if s := pl.liveByName(d.Name); s != nil {
				if r, own := pl.owned[s.ID]; own && !pl.desiredKeys[keyIdentity(r.RuleKey)] {
					// It moves to d's key, unless another skill (the one
					// merged away, until its delete) still holds that key.
					taken := slices.ContainsFunc(pl.ownedByKeyID[keyIdentity(d.Key)], func(o store.OwnedSkill) bool { return o.SkillID != r.SkillID })
					pl.kept[i], pl.rekey[i] = &r, !taken
				}
			}
		}
		if r := pl.kept[i]; r != nil {
			pl.resolveRename(r, d.Name)
		}
	}
}

// resolveRename makes transfer_to resolve name to the skill of row when
// this run renames it to name: a skill this run renames answers to its
// new name only.
func (pl *planner) resolveRename(row *store.OwnedSkill, name string) {
	cur := pl.byID[row.SkillID]
	if cur == nil || cur.Deleted || sameName(cur.Name, name) {
		return
	}
	if other := pl.liveByName(name); other != nil && other.ID != cur.ID {
		return // the rename is blocked
	}
	if gone := pl.deletedByName(name); gone != nil && gone.ID != cur.ID {
		return
	}
	pl.resolver.idByName[nameKey(name)] = cur.ID
	if pl.resolver.idByName[nameKey(cur.Name)] == cur.ID {
		delete(pl.resolver.idByName, nameKey(cur.Name))
	}
	pl.renamedAway[nameKey(cur.Name)] = cur.ID
}

// planDesired decides desired skill i: through the owned skill it keeps,
// if any, else as a skill skillsync does not own yet.
func (pl *planner) planDesired(i int) {
	d := &pl.in.Desired[i]
	var row store.OwnedSkill
	ok, rekey := pl.kept[i] != nil, pl.rekey[i]
	if ok {
		row = *pl.kept[i]
		if row.RuleKey != d.Key && !rekey {
			// The group keeps the key of the skill it keeps.
			dd := *d
			dd.Key = row.RuleKey
			d = &dd
		}
	}
	if !ok {
		// The key changed (rule id or name attributes edited) but a
		// skill we own still carries the desired name: keep that skill
		// rather than delete and recreate it.
		if s := pl.liveByName(d.Name); s != nil {
			if r, own := pl.owned[s.ID]; own && !pl.desiredKeys[keyIdentity(r.RuleKey)] && !pl.claimed[s.ID] {
				row, ok, rekey = r, true, true
			}
		}
	}
	if !ok {
		pl.planUnowned(d, provenance(d))
		return
	}
	pl.claimed[row.SkillID] = true
	cur := pl.byID[row.SkillID]
	switch {
	case pl.missing(row.SkillID):
		pl.reportMissing(row)
	case cur == nil || cur.Deleted:
		pl.planRecreate(d, provenance(d), row, cur)
	default:
		pl.planOwned(d, provenance(d), row, cur, rekey)
	}
}

// planRecreate decides a desired skill whose owned skill LivePerson no
// longer has (cur nil: a 404; else deleted): create it again, unless its
// name is taken.
func (pl *planner) planRecreate(d *DesiredSkill, prov Change, row store.OwnedSkill, cur *liveperson.Skill) {
	p := pl.p
	if other := pl.liveByName(d.Name); other != nil {
		p.Changes = append(p.Changes, conflict(d, prov, other,
			fmt.Sprintf("skill %d that skillsync created for this rule was deleted in LivePerson, and the name is now held by skill %d, which skillsync does not manage", row.SkillID, other.ID)))
		return
	}
	if gone := pl.deletedByName(d.Name); gone != nil {
		// LivePerson keeps the names of deleted skills (lpsim takes
		// the strict reading of "unique"): a create would fail.
		p.Changes = append(p.Changes, conflict(d, prov, gone,
			fmt.Sprintf("skill %d that skillsync created for this rule was deleted in LivePerson outside skillsync; LivePerson keeps the names of deleted skills, so it cannot be created again as %q: change the rule's name or restore the skill in LivePerson", row.SkillID, d.Name)))
		return
	}
	after := desiredSkill(liveperson.Skill{}, d, pl.resolver)
	reason := fmt.Sprintf("skill %d was deleted in LivePerson outside skillsync; creating it again", row.SkillID)
	if cur == nil {
		reason = fmt.Sprintf("skill %d no longer exists in LivePerson; creating it again", row.SkillID)
	}
	c := prov
	c.Action, c.Skill, c.After, c.Recreate, c.Reason, c.ReplacesID = ActionCreate, d.Name, after, true, reason, row.SkillID
	p.carriers[nameKey(d.Name)] = carrier{create: true}
	c.managed = managedFields(d)
	c.Fields, c.Diff = createFields(d, after, pl.resolver)
	p.Changes = append(p.Changes, c)
}

// planOwned decides a desired skill whose owned skill cur is live: it
// carries d (even when a rename is blocked: its team keeps it
// meanwhile), unchanged, or updated (a rename, drift, new settings).
func (pl *planner) planOwned(d *DesiredSkill, prov Change, row store.OwnedSkill, cur *liveperson.Skill, rekey bool) {
	p := pl.p
	p.carriers[nameKey(d.Name)] = carrier{id: cur.ID}
	if !sameName(cur.Name, d.Name) {
		if other := pl.liveByName(d.Name); other != nil && other.ID != cur.ID {
			p.Changes = append(p.Changes, conflict(d, prov, other,
				fmt.Sprintf("cannot rename skill %d %q: the name is held by skill %d; skill %d keeps its name and its members meanwhile", cur.ID, cur.Name, other.ID, cur.ID)))
			return
		}
		if gone := pl.deletedByName(d.Name); gone != nil && gone.ID != cur.ID {
			p.Changes = append(p.Changes, conflict(d, prov, gone,
				fmt.Sprintf("cannot rename skill %d %q: deleted skill %d still holds the name in LivePerson, which keeps the names of deleted skills; skill %d keeps its name and its members meanwhile: change the rule's name", cur.ID, cur.Name, gone.ID, cur.ID)))
			return
		}
	}
	after := desiredSkill(*cur, d, pl.resolver)
	diff := pl.resolver.pendingTransfers(diffSkill(cur, after, d, pl.resolver), cur, d)
	managed := managedFields(d)
	if _, ok := pl.takenOver[cur.ID]; ok && len(diff) == 0 {
		// Nothing to write, but registering it is a change the
		// plan shows (as an adoption, explainTakeovers).
		c := prov
		c.Action, c.Skill, c.SkillID, c.Before, c.After, c.Rekey = ActionUpdate, d.Name, cur.ID, cur, after, rekey
		c.Fields, c.managed = []string{}, managed
		p.Changes = append(p.Changes, c)
		return
	}
	if len(diff) == 0 {
		pl.unchanged(d, row, cur, managed, rekey)
		return
	}
	c := prov
	c.Action, c.Skill, c.SkillID, c.Before, c.After, c.Diff, c.Rekey = ActionUpdate, d.Name, cur.ID, cur, after, diff, rekey
	c.Fields = diffFields(diff)
	c.managed = managed
	var edited []string
	if w, ok := pl.in.Written[cur.ID]; ok {
		edited = editedFields(cur, w, managed)
	} else if cur.Name != row.Name {
		// LivePerson's name is not the one we gave it.
		edited = []string{"name"}
	}
	if len(edited) > 0 {
		c.Drift = true
		c.Reason = "edited outside skillsync: " + strings.Join(edited, ", ")
	} else if row.Name != d.Name {
		c.RenamedFrom = cur.Name
	}
	p.Changes = append(p.Changes, c)
}

// unchanged counts an owned skill that needs no write, and fixes what
// skillsync remembers of it: its written state and its registry row.
func (pl *planner) unchanged(d *DesiredSkill, row store.OwnedSkill, cur *liveperson.Skill, managed []string, rekey bool) {
	p := pl.p
	if pl.in.Written != nil {
		if st := stateOf(cur, managed); !sameState(st, pl.in.Written[cur.ID]) {
			if p.StateFixes == nil {
				p.StateFixes = map[int64]SkillState{}
			}
			p.StateFixes[cur.ID] = st
		}
	}
	p.Unchanged++
	if rekey || row.Name != d.Name {
		fix := row
		fix.Name, fix.RuleID, fix.RuleKey = d.Name, d.RuleID, d.Key
		p.RegistryFixes = append(p.RegistryFixes, fix)
	}
}

// planUnowned decides a desired skill skillsync owns no skill for:
// create it, adopt the skill of its name (skills.adopt_existing), or
// report the name taken.
func (pl *planner) planUnowned(d *DesiredSkill, prov Change) {
	p := pl.p
	afterRenames := false
	if other := pl.liveByName(d.Name); other != nil && pl.renamedAway[nameKey(d.Name)] == other.ID {
		// Another group's skill gives the name up in this run.
		afterRenames = true
	} else if other != nil {
		pl.planTaken(d, prov, other)
		return
	}
	if gone := pl.deletedByName(d.Name); gone != nil {
		p.Changes = append(p.Changes, conflict(d, prov, gone,
			fmt.Sprintf("deleted skill %d %q still holds the name in LivePerson, which keeps the names of deleted skills; change the rule's name", gone.ID, gone.Name)))
		return
	}
	after := desiredSkill(liveperson.Skill{}, d, pl.resolver)
	c := prov
	c.Action, c.Skill, c.After, c.afterRenames = ActionCreate, d.Name, after, afterRenames
	p.carriers[nameKey(d.Name)] = carrier{create: true}
	c.Fields, c.Diff = createFields(d, after, pl.resolver)
	c.managed = managedFields(d)
	p.Changes = append(p.Changes, c)
}

// planTaken decides a desired skill whose name a live skill other holds
// that this desired skill does not own: a conflict, or an adoption.
func (pl *planner) planTaken(d *DesiredSkill, prov Change, other *liveperson.Skill) {
	p := pl.p
	if r, own := pl.owned[other.ID]; own {
		p.Changes = append(p.Changes, conflict(d, prov, other,
			fmt.Sprintf("the name is held by skill %d, which skillsync manages for rule %s (key %s)", other.ID, r.RuleID, r.RuleKey)))
		return
	}
	if !pl.in.AdoptExisting {
		p.Changes = append(p.Changes, conflict(d, prov, other,
			fmt.Sprintf("skill %d %q exists and is not managed by skillsync; left untouched (set skills.adopt_existing: true to take it over)", other.ID, other.Name)))
		return
	}
	after := desiredSkill(*other, d, pl.resolver)
	diff := pl.resolver.pendingTransfers(diffSkill(other, after, d, pl.resolver), other, d)
	c := prov
	c.Action, c.Skill, c.SkillID, c.Before, c.After, c.Diff, c.Adopt = ActionUpdate, d.Name, other.ID, other, after, diff, true
	c.Fields = diffFields(diff)
	c.managed = managedFields(d)
	c.Reason = "adopting an existing skill (skills.adopt_existing)"
	p.carriers[nameKey(d.Name)] = carrier{id: other.ID}
	p.Changes = append(p.Changes, c)
}

// planUnclaimed decides the owned skills no desired skill claimed: gone
// from the HR data. Missing from the list: kept and reported; gone from
// LivePerson: forgotten; else the rules' part of the delete guard
// (dueDeletes).
func (pl *planner) planUnclaimed() {
	p := pl.p
	var unclaimed []store.OwnedSkill
	for _, id := range slices.Sorted(maps.Keys(pl.owned)) {
		if pl.claimed[id] {
			continue
		}
		row := pl.owned[id]
		if pl.missing(id) {
			pl.reportMissing(row)
			continue
		}
		if pl.gone(id) {
			p.Forget = append(p.Forget, id)
			continue
		}
		unclaimed = append(unclaimed, row)
	}
	p.Changes = append(p.Changes, dueDeletes(pl.in, unclaimed, pl.byID)...)
}

// explainTakeovers says in the plan why a skill with the name of a lost
// create is not ours, and marks the changes of the skills taken over.
func (pl *planner) explainTakeovers() {
	p := pl.p
	for i := range p.Changes {
		c := &p.Changes[i]
		if why, ok := pl.disowned[c.SkillID]; ok && c.SkillID != 0 && c.Action == ActionUnmanagedConflict {
			c.Reason += "; " + why
		}
		runID, ok := pl.takenOver[c.SkillID]
		if !ok || c.SkillID == 0 {
			continue
		}
		why := fmt.Sprintf("created by run %d, which stopped before LivePerson's answer arrived: taken over", runID)
		switch c.Action {
		case ActionUpdate:
			c.Adopt, c.CreatedByRun, c.Reason = true, runID, why
		case ActionDelete, ActionPendingDelete:
			c.CreatedByRun, c.Reason = runID, why+"; "+c.Reason
		}
	}
}

// takeOver decides about the creates earlier runs sent without learning
// their outcome (their process died between the request and the answer,
// or the run left the row sent after a lost answer). A live skill under
// such a name that nothing owns and that has every field the create sent
// (madeBy, the rule the applier follows within a run too) is the one
// skillsync made: it joins owned and ownedByKey (and p.Takeovers, for the
// applier) under the rule key the create was journaled with, whether that
// key is still desired or not: a skill no rule produces any more then goes
// through the delete grace like any other owned skill, rather than stay in
// the account unmanaged. Every create gets a resolution in p.Unconfirmed.
// It returns the skills taken over, by id, with the run that created
// them, and the skills under such a name that are not provably ours, by
// id, with why (for the reason of their unmanaged conflict).
//
// A create still intended never left the process, so a skill under its
// name is someone else's; a skill whose fields differ from what was sent
// may have been made by hand meanwhile, and is left alone; and a rule key
// managed by another live skill is not given to a second one.
func takeOver(p *Plan, unconfirmed []store.Operation, listRev string, liveByName func(string) *liveperson.Skill,
	owned map[int64]store.OwnedSkill, ownedByKey map[string]store.OwnedSkill, gone func(int64) bool) (map[int64]int64, map[int64]string) {
	if len(unconfirmed) == 0 {
		return nil, nil
	}
	taken := map[int64]int64{}
	disowned := map[int64]string{}
	// The newest create of a name is the one that made it, if any did.
	ops := slices.SortedFunc(slices.Values(unconfirmed), func(a, b store.Operation) int {
		return cmp.Or(cmp.Compare(b.RunID, a.RunID), cmp.Compare(b.ID, a.ID))
	})
	for _, op := range ops {
		r := CreateResolution{OpID: op.ID, RunID: op.RunID, Skill: op.SkillName}
		live := liveByName(op.SkillName)
		if live != nil {
			r.SkillID = live.ID
		}
		_, managed := owned[r.SkillID]
		keyRow, keyTaken := ownedByKey[op.RuleKey]
		keyTaken = keyTaken && op.RuleKey != ""
		// A key row whose skill is missing from the list but not
		// confirmed gone counts as live: nothing is forgotten on a bad read.
		keyLive := keyTaken && !gone(keyRow.SkillID)
		var notOurs string
		if live != nil {
			notOurs = madeBy(live, op.Sent)
		}
		switch {
		case op.State == store.OpIntended:
			r.Resolution, r.Note, r.SkillID = ResolutionNotSent, "never sent: the run stopped before the request left", 0
		case live == nil && !revisionAfter(listRev, op.Revision):
			// A list that lags behind the create would not show the
			// skill it made: settled as not made, it would be nobody's
			// for good.
			r.Resolution = ResolutionUnseen
			r.Note = fmt.Sprintf("no skill named %q in a skill list read at revision %s, not later than revision %s the create was sent under (the list may lag behind it): left for a later run to settle", op.SkillName, cmp.Or(listRev, "unknown"), op.Revision)
		case live == nil:
			r.Resolution, r.Note = ResolutionAbsent, fmt.Sprintf("no skill named %q in LivePerson: the create did not happen", op.SkillName)
			if numericRevision(listRev) && numericRevision(op.Revision) {
				r.proof = listRev
			}
		case taken[live.ID] != 0:
			r.Resolution, r.Note = ResolutionManaged, fmt.Sprintf("skill %d taken over for the create of run %d", live.ID, taken[live.ID])
		case managed:
			r.Resolution, r.Note = ResolutionManaged, fmt.Sprintf("skill %d is managed already", live.ID)
		case notOurs != "":
			r.Resolution = ResolutionNotOurs
			r.Note = fmt.Sprintf("skill %d has the name, but not what the create sent: %s; someone else's, left unmanaged", live.ID, notOurs)
			if _, seen := disowned[live.ID]; !seen {
				disowned[live.ID] = fmt.Sprintf("run %d sent a create of this name without learning its outcome, but this skill is not provably the one it made (%s), so it is not taken over",
					op.RunID, notOurs)
			}
		case keyLive:
			r.Resolution = ResolutionLeft
			r.Note = fmt.Sprintf("skill %d exists but key %s is managed by skill %d; left unmanaged", live.ID, op.RuleKey, keyRow.SkillID)
		default:
			if keyTaken {
				// The key's skill is gone from LivePerson: this one
				// replaces it (a recreate whose answer was lost).
				delete(owned, keyRow.SkillID)
				p.Forget = append(p.Forget, keyRow.SkillID)
			}
			runID := op.RunID
			t := store.OwnedSkill{SkillID: live.ID, Name: live.Name, RuleID: op.RuleID, RuleKey: op.RuleKey, CreatedByRun: &runID}
			owned[t.SkillID] = t
			if t.RuleKey != "" {
				ownedByKey[t.RuleKey] = t
			}
			taken[live.ID] = op.RunID
			delete(disowned, live.ID) // an older create made it after all
			p.Takeovers = append(p.Takeovers, t)
			r.Resolution, r.Note = ResolutionTakenOver, fmt.Sprintf("skill %d exists with every field the create sent: taken over", live.ID)
		}
		p.Unconfirmed = append(p.Unconfirmed, r)
	}
	slices.SortFunc(p.Unconfirmed, func(a, b CreateResolution) int {
		return cmp.Or(cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.OpID, b.OpID))
	})
	slices.SortFunc(p.Takeovers, func(a, b store.OwnedSkill) int { return cmp.Compare(a.SkillID, b.SkillID) })
	return taken, disowned
}

// revisionAfter reports whether a list read at account revision list is
// provably later than revision sent (the If-Match a create was sent
// under), so that a create it does not show did not happen. LivePerson's
// revision is one counter per account, incremented by every change: both
// numbers, list must be greater. A create journaled without a revision
// (before the journal kept it, or sent with none) and revisions that are
// not numbers cannot be compared: settled from any list, as before.
func revisionAfter(list, sent string) bool {
	s, err := strconv.ParseInt(sent, 10, 64)
	if sent == "" || err != nil {
		return true
	}
	l, err := strconv.ParseInt(list, 10, 64)
	if list == "" || err != nil {
		return true
	}
	return l > s
}

// liveName is the name of a live skill, "" for none or a deleted one.
func liveName(s *liveperson.Skill) string {
	if s == nil || s.Deleted {
		return ""
	}
	return s.Name
}

// keysOf returns the registry keys that produce d.
func keysOf(d *DesiredSkill) []string {
	if len(d.Keys) > 0 {
		return d.Keys
	}
	return []string{d.Key}
}

// pickOwned returns the registry row of the skill a desired skill keeps,
// or nil. When several keys produce the name (a template change merged two
// groups) and more than one of them owns a skill, the skill already
// carrying the name wins, then the one under d.Key, then the smallest key:
// never the order of the feed.
func pickOwned(d *DesiredSkill, ownedByKeyID map[string][]store.OwnedSkill, byID map[int64]*liveperson.Skill) *store.OwnedSkill {
	var best *store.OwnedSkill
	rank := func(r store.OwnedSkill) int {
		if cur := byID[r.SkillID]; cur != nil && !cur.Deleted && sameName(cur.Name, d.Name) {
			return 0
		}
		if r.RuleKey == d.Key {
			return 1
		}
		return 2
	}
	seen := map[string]bool{}
	for _, k := range keysOf(d) {
		id := keyIdentity(k)
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, r := range ownedByKeyID[id] {
			if best == nil || rank(r) < rank(*best) {
				best = &r
			}
		}
	}
	return best
}

// keyIdentity is a registry key with its attribute values compared as
// names are (NameKey): the rule id, then each value.
func keyIdentity(key string) string {
	rule, values, ok := strings.Cut(key, "|")
	if !ok {
		return key
	}
	parts := strings.Split(values, "|")
	for i, v := range parts {
		parts[i] = nameKey(v)
	}
	return rule + "|" + strings.Join(parts, "|")
}

// tombstoneMark ends the name a deleted skill is given: LivePerson keeps
// the names of deleted skills, and a skill of the name may be wanted again.
const tombstoneMark = "(deleted by skillsync, id %d)"

// FreeDeletedNames renames each skill the plan deletes before its delete
// (an update the applier makes first: updates precede deletes), so that
// the name is free when its team returns and the rules want it again:
// LivePerson keeps the names of deleted skills and documents no way to
// restore one. The new name keeps the old one for LivePerson's reports,
// e.g. "Sales (deleted by skillsync, id 4120000001)". Call it last, once
// every guard has decided which deletes go ahead.
func FreeDeletedNames(p *Plan, current []liveperson.Skill) {
	taken := make(map[string]bool, len(current))
	for _, s := range current {
		taken[nameKey(s.Name)] = true
	}
	for _, c := range p.Changes {
		taken[nameKey(c.Skill)] = true
	}
	var renames []Change
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != ActionDelete || c.Before == nil {
			continue
		}
		mark := fmt.Sprintf(tombstoneMark, c.SkillID)
		if strings.HasSuffix(c.Before.Name, mark) {
			continue // freed already (a re-plan, or a delete that failed)
		}
		name := c.Before.Name + " " + mark
		for i := 2; taken[nameKey(name)]; i++ {
			name = fmt.Sprintf("%s %s #%d", c.Before.Name, mark, i)
		}
		taken[nameKey(name)] = true
		c.RenameTo = name
		after := *c.Before
		after.Name = name
		renames = append(renames, Change{Action: ActionUpdate, Skill: c.Skill, SkillID: c.SkillID, Rule: c.Rule, Key: c.Key,
			Before: c.Before, After: &after, Fields: []string{"name"}, Diff: []FieldDiff{{Field: "name", Before: c.Before.Name, After: name}},
			Reason: "frees the name before the delete (LivePerson keeps the names of deleted skills), so that the rules can create it again", freesName: true})
	}
	if len(renames) > 0 {
		p.Changes = append(p.Changes, renames...)
		sortChanges(p.Changes)
	}
}

func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Skill, b.Skill), strings.Compare(string(a.Action), string(b.Action)),
			cmp.Compare(a.SkillID, b.SkillID))
	})
}

// applyPolicy filters the plan's creates and updates down to what the
// policy allows (deletes: dueDeletes, step 1 of the delete guard).
func applyPolicy(p *Plan) {
	if p.Policy == PolicySync {
		return
	}
	out := p.Changes[:0]
	for _, c := range p.Changes {
		switch c.Action {
		case ActionUpdate:
			if p.Policy == PolicyCreateOnly {
				if c.CreatedByRun != 0 {
					// A skill this tool created: taking it over is
					// bookkeeping, changing its fields is an update.
					c.Diff, c.Fields, c.After, c.RenamedFrom, c.managed = nil, []string{}, c.Before, "", nil
					out = append(out, c)
					continue
				}
				if !c.Adopt {
					p.Unchanged++
					continue
				}
				// An adoption is an update: create-only reports the name
				// clash instead.
				delete(p.carriers, nameKey(c.Skill))
				c = Change{Action: ActionUnmanagedConflict, Skill: c.Skill, SkillID: c.SkillID, Rule: c.Rule, Key: c.Key,
					Members: c.Members, MemberIDs: c.MemberIDs, Fields: []string{},
					Reason: fmt.Sprintf("skill %d exists and is not managed by skillsync; policy create-only does not adopt", c.SkillID)}
			}
		}
		out = append(out, c)
	}
	p.Changes = out
	// Without deletes there is no grace to track, and a vanished skill's
	// registry row is still dropped: that is bookkeeping, not a change.
}

func provenance(d *DesiredSkill) Change {
	c := Change{Rule: d.RuleID, Key: d.Key, Members: len(d.Members), TransferTo: d.Settings.TransferTo}
	if len(d.Members) > 0 {
		c.MemberIDs = slices.Clone(d.Members[:min(len(d.Members), maxMemberIDs)])
	}
	return c
}

func conflict(d *DesiredSkill, prov Change, other *liveperson.Skill, reason string) Change {
	c := prov
	c.Action, c.Skill, c.SkillID, c.Reason, c.Before, c.Fields = ActionUnmanagedConflict, d.Name, other.ID, reason, other, []string{}
	return c
}

// desiredSkill returns base with the fields skillsync manages set from d.
// Every other field (Extra included) is kept, so an update sends LivePerson
// the whole object back. It returns a new skill (one allocation: the
// table's functions take its address).
func desiredSkill(base liveperson.Skill, d *DesiredSkill, r *transferResolver) *liveperson.Skill {
	out := new(liveperson.Skill)
	*out = base
	out.Name = d.Name
	if d.ManageDescription {
		out.Description = d.Description
	}
	fields := liveperson.SkillFields()
	for i := range fields {
		f := &fields[i]
		if names := f.SettingNames(&d.Settings); names != nil {
			f.SetIDs(out, r.ids(names))
			continue
		}
		f.Apply(out, &d.Settings)
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

func sortedIDs(ids []int64) []int64 { return liveperson.SortedIDs(ids) }

// diffSkill lists the managed fields whose values differ between before
// and after. Fields skillsync does not set are never compared.
func diffSkill(before, after *liveperson.Skill, d *DesiredSkill, r *transferResolver) []FieldDiff {
	var out []FieldDiff
	add := func(field string, b, a any) { out = append(out, FieldDiff{Field: field, Before: b, After: a}) }
	if before.Name != after.Name {
		add("name", before.Name, after.Name)
	}
	if d.ManageDescription && before.Description != after.Description {
		add("description", before.Description, after.Description)
	}
	fields := liveperson.SkillFields()
	for i := range fields {
		f := &fields[i]
		if !f.IsSet(&d.Settings) || f.Equal(before, after) {
			continue
		}
		if f.SettingNames(&d.Settings) != nil { // shown by skill name
			add(f.Key, r.names(f.IDs(before)), r.names(f.IDs(after)))
			continue
		}
		add(f.Key, f.Value(before), f.Value(after))
	}
	return out
}

// createFields lists what a create sets, as diffs from nothing.
func createFields(d *DesiredSkill, after *liveperson.Skill, r *transferResolver) ([]string, []FieldDiff) {
	diff := diffSkill(&liveperson.Skill{}, after, d, r)
	if d.ManageDescription && after.Description == "" {
		diff = append(diff, FieldDiff{Field: "description", After: ""})
	}
	for i := range diff {
		diff[i].Before = nil
	}
	if d.Settings.TransferTo != nil {
		// Name the targets as configured: some may be created by this run.
		for i := range diff {
			if diff[i].Field == "transfer_to" {
				diff[i].After = slices.Clone(d.Settings.TransferTo)
			}
		}
		if !slices.ContainsFunc(diff, func(f FieldDiff) bool { return f.Field == "transfer_to" }) {
			diff = append(diff, FieldDiff{Field: "transfer_to", After: slices.Clone(d.Settings.TransferTo)})
		}
	}
	return diffFields(diff), diff
}

func diffFields(diff []FieldDiff) []string {
	out := make([]string, len(diff))
	for i, f := range diff {
		out[i] = f.Field
	}
	return out
}

func sameIDs(a, b []int64) bool { return liveperson.SameIDs(a, b) }

// transferResolver maps transfer_to skill names to ids. Names of skills
// this run will create have no id yet: they resolve at apply time.
type transferResolver struct {
	idByName map[string]int64  // NameKey of a name after the run → id
	nameByID map[int64]string  // for rendering
	desired  map[string]string // NameKey → desired name
	unknown  map[string]bool
}

func newTransferResolver(current []liveperson.Skill, desired []DesiredSkill) *transferResolver {
	r := &transferResolver{idByName: map[string]int64{}, nameByID: map[int64]string{}, desired: map[string]string{}, unknown: map[string]bool{}}
	for _, s := range current {
		r.nameByID[s.ID] = s.Name
		if !s.Deleted {
			// The lowest id answers for a name, whatever the list's order.
			if id, ok := r.idByName[nameKey(s.Name)]; !ok || s.ID < id {
				r.idByName[nameKey(s.Name)] = s.ID
			}
		}
	}
	for _, d := range desired {
		r.desired[nameKey(d.Name)] = d.Name
	}
	return r
}

// ids resolves names to the ids known now; a desired skill without an id
// yet is left for the applier, which resolves again after its creates.
func (r *transferResolver) ids(names []string) []int64 {
	out := []int64{}
	for _, n := range names {
		if id, ok := r.idByName[nameKey(n)]; ok {
			out = append(out, id)
		} else if _, later := r.desired[nameKey(n)]; !later {
			r.unknown[n] = true
		}
	}
	return sortedIDs(out)
}

func (r *transferResolver) names(ids []int64) any {
	if ids == nil {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range sortedIDs(ids) {
		if n, ok := r.nameByID[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, strconv.FormatInt(id, 10))
		}
	}
	return out
}

// pendingTransfers adds a transfer_to change to diff when d's transfer
// list names skills this run creates: their ids exist only at apply time,
// when the applier resolves the list again, so the update must be planned
// now (a later run would otherwise make it, and a plan right after the
// apply would not be empty).
func (r *transferResolver) pendingTransfers(diff []FieldDiff, before *liveperson.Skill, d *DesiredSkill) []FieldDiff {
	names := d.Settings.TransferTo
	if names == nil || slices.ContainsFunc(diff, func(f FieldDiff) bool { return f.Field == "transfer_to" }) {
		return diff
	}
	for _, n := range names {
		if _, ok := r.idByName[nameKey(n)]; ok {
			continue
		}
		if _, later := r.desired[nameKey(n)]; later {
			return append(diff, FieldDiff{Field: "transfer_to", Before: r.names(before.SkillTransferList), After: slices.Clone(names)})
		}
	}
	return diff
}

func (r *transferResolver) warnings() []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(r.unknown)) {
		out = append(out, fmt.Sprintf("transfer_to names %q, which is neither an existing skill nor one the rules produce; ignored", n))
	}
	return out
}
