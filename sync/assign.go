package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// maxExamples is how many examples a note on unmatched or ambiguous
// records carries.
const maxExamples = 5

// AssignmentPlan is the users section of a plan: which matched users gain
// or lose which owned skills.
type AssignmentPlan struct {
	// Match is the record field users are matched on (email, login_name).
	Match string `json:"match"`
	// Matched counts users matched to exactly one HR record.
	Matched int `json:"matched_users"`
	// Considered counts the users the run looked at (every user not
	// deleted): the base of assignments.max_changes_percent.
	Considered int `json:"users_considered"`
	// Users are the matched users whose skills change, sorted by user id.
	Users []UserChange `json:"users"`
	// UnmatchedRecords counts active records without a LivePerson user.
	UnmatchedRecords int      `json:"unmatched_records"`
	UnmatchedExample []string `json:"unmatched_examples,omitempty"`
	// Ambiguous counts match keys shared by several records or several
	// users: such users are not managed at all rather than guessed.
	Ambiguous        int      `json:"ambiguous"`
	AmbiguousExample []string `json:"ambiguous_examples,omitempty"`
	// Departed counts users without an HR record who hold owned skills
	// (they lose them unless assignments.keep_unmatched is set).
	Departed int `json:"departed_users"`
	// HeldBack counts users whose removals wait for a later run
	// (assignments.max_changes_percent).
	HeldBack int `json:"held_back"`
	// KeptForProblems counts removals not planned because the skill's rule
	// could not evaluate the user's record (a record problem): bad input
	// never takes a skill away.
	KeptForProblems int `json:"kept_for_record_problems"`
	// Notes say the above in words, for the text plan.
	Notes []string `json:"notes,omitempty"`

	// managed maps a managed user's id to its post-run skill ids known at
	// plan time (skills created this run are added at apply time).
	managed map[int64]bool
}

// SkillRef names a skill in an assignment change, with the rule behind it.
type SkillRef struct {
	Skill   string `json:"skill"`
	SkillID int64  `json:"skill_id,omitempty"` // 0: created by this run
	Rule    string `json:"rule,omitempty"`
}

// UserChange is one user's planned skill changes.
type UserChange struct {
	UserID   int64      `json:"user_id"`
	Login    string     `json:"login_name,omitempty"`
	Email    string     `json:"email,omitempty"`
	RecordID string     `json:"record_id"`
	Active   bool       `json:"active"`
	Assign   []SkillRef `json:"assign,omitempty"`
	Unassign []SkillRef `json:"unassign,omitempty"`
	// HeldUnassign are removals the max_changes_percent guard postponed.
	HeldUnassign []SkillRef `json:"held_unassign,omitempty"`

	user liveperson.User
}

// Counts returns the number of skill grants and removals.
func (a *AssignmentPlan) Counts() (assign, unassign int) {
	for _, u := range a.Users {
		assign += len(u.Assign)
		unassign += len(u.Unassign)
	}
	return assign, unassign
}

// AssignInput is what assignment planning looks at.
type AssignInput struct {
	Records []hrsource.Record
	Users   []liveperson.User
	// Match is "email" or "login_name".
	Match string
	// MaxChangesPercent caps the share of the users considered (not
	// deleted) that lose skills: 0 none, negative no cap.
	MaxChangesPercent float64
	// KeepUnmatched leaves users without an HR record alone.
	KeepUnmatched bool
	// Problems are the records the rules skipped: a user whose record a
	// rule skipped keeps that rule's skills (a problem without a record
	// id, the rule's "more records skipped", holds the rule's skills for
	// every user).
	Problems []RecordProblem
}

func matchKey(match, email, login string) string {
	if match == "login_name" {
		return strings.ToLower(strings.TrimSpace(login))
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// PlanAssignments works out, for every LivePerson user matched to exactly
// one HR record, the owned skills to add and remove so that the user holds
// exactly the owned skills whose rules selected the record. Skills that
// skillsync does not own are never part of it. p is the skills plan (it
// says which skills will be owned after the run and under which names).
func PlanAssignments(p *Plan, desired []DesiredSkill, registry []store.OwnedSkill, current []liveperson.Skill, in AssignInput) *AssignmentPlan {
	a := &AssignmentPlan{Match: cmp.Or(in.Match, "email"), managed: map[int64]bool{}}

	// Owned skills after the run: id → name and rule.
	curByID := make(map[int64]*liveperson.Skill, len(current))
	for i := range current {
		curByID[current[i].ID] = &current[i]
	}
	type ownedInfo struct{ name, rule string }
	owned := map[int64]ownedInfo{}
	for _, r := range registry {
		if r.ReleasedAt != nil {
			continue
		}
		if strings.HasPrefix(r.RuleID, staticRulePrefix) {
			// Static skills exist regardless of HR records: who holds
			// them is decided by hand, never by assignments.
			continue
		}
		name := r.Name
		if s := curByID[r.SkillID]; s != nil {
			if s.Deleted {
				continue
			}
			name = s.Name
		}
		owned[r.SkillID] = ownedInfo{name: name, rule: r.RuleID}
	}
	blocked := map[string]bool{} // desired names that are not (going to be) ours
	desiredID := map[string]int64{}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionUnmanagedConflict:
			blocked[c.Skill] = true
		case ActionUpdate:
			if strings.HasPrefix(c.Rule, staticRulePrefix) {
				delete(owned, c.SkillID)
				blocked[c.Skill] = true
				continue
			}
			owned[c.SkillID] = ownedInfo{name: c.Skill, rule: c.Rule}
			desiredID[c.Skill] = c.SkillID
		}
	}
	for id, o := range owned {
		if _, ok := desiredID[o.name]; !ok {
			desiredID[o.name] = id
		}
	}

	recordsByKey := make(map[string][]int32, len(in.Records))
	for i := range in.Records {
		r := &in.Records[i]
		if k := matchKey(a.Match, r.Email, r.LoginName); k != "" {
			recordsByKey[k] = append(recordsByKey[k], int32(i))
		}
	}
	usersByKey := make(map[string][]int, len(in.Users))
	for i := range in.Users {
		u := &in.Users[i]
		if u.Deleted {
			continue
		}
		if k := matchKey(a.Match, u.Email, u.LoginName); k != "" {
			usersByKey[k] = append(usersByKey[k], i)
		}
	}
	// Active records no user matches, in feed order.
	for i := range in.Records {
		r := &in.Records[i]
		if !r.Active {
			continue
		}
		k := matchKey(a.Match, r.Email, r.LoginName)
		if k != "" && len(usersByKey[k]) > 0 {
			continue
		}
		a.UnmatchedRecords++
		if len(a.UnmatchedExample) < maxExamples {
			a.UnmatchedExample = append(a.UnmatchedExample, fmt.Sprintf("record %s (%s)", r.ID, cmp.Or(k, "no "+a.Match)))
		}
	}

	// Pair users and records one to one; shared keys are not guessed.
	type pair struct {
		user liveperson.User
		rec  *hrsource.Record
		want []SkillRef
	}
	var pairs []pair
	pairOf := map[string]int{} // record id → index in pairs
	ambiguous := map[string]bool{}
	for i := range in.Users {
		u := &in.Users[i]
		if u.Deleted {
			continue
		}
		k := matchKey(a.Match, u.Email, u.LoginName)
		recs := recordsByKey[k]
		switch {
		case k == "" || len(recs) == 0:
			// No HR record: someone who left and is gone from the feed.
			// They lose the owned skills they hold (others stay), unless
			// assignments.keep_unmatched says such users are not managed.
			if in.KeepUnmatched {
				continue
			}
			uc := UserChange{UserID: u.ID, Login: u.LoginName, Email: u.Email, user: *u}
			for _, id := range u.SkillIDs {
				if o, ok := owned[id]; ok {
					uc.Unassign = append(uc.Unassign, SkillRef{Skill: o.name, SkillID: id, Rule: o.rule})
				}
			}
			a.managed[u.ID] = true
			if len(uc.Unassign) > 0 {
				sortRefs(uc.Unassign)
				a.Users = append(a.Users, uc)
				a.Departed++
			}
			continue
		case len(recs) > 1 || len(usersByKey[k]) > 1:
			if !ambiguous[k] {
				ambiguous[k] = true
				a.Ambiguous++
				if len(a.AmbiguousExample) < maxExamples {
					a.AmbiguousExample = append(a.AmbiguousExample, fmt.Sprintf("%s: %d records, %d users", k, len(recs), len(usersByKey[k])))
				}
			}
			continue
		}
		rec := &in.Records[recs[0]]
		pairOf[rec.ID] = len(pairs)
		pairs = append(pairs, pair{user: *u, rec: rec})
		a.managed[u.ID] = true
	}
	a.Matched = len(pairs)
	for i := range in.Users {
		if !in.Users[i].Deleted {
			a.Considered++
		}
	}
	for _, d := range desired {
		if blocked[d.Name] {
			continue
		}
		ref := SkillRef{Skill: d.Name, SkillID: desiredID[d.Name], Rule: d.RuleID}
		for _, m := range d.Members {
			if i, ok := pairOf[m]; ok {
				pairs[i].want = append(pairs[i].want, ref)
			}
		}
	}
	problemRule := map[string]bool{}           // every record held
	problemRec := map[string]map[string]bool{} // record id → rules
	for _, pr := range in.Problems {
		if pr.RecordID == "" {
			problemRule[pr.RuleID] = true
			continue
		}
		if problemRec[pr.RecordID] == nil {
			problemRec[pr.RecordID] = map[string]bool{}
		}
		problemRec[pr.RecordID][pr.RuleID] = true
	}
	for _, pr := range pairs {
		u, rec, want := pr.user, pr.rec, pr.want
		if !rec.Active {
			want = nil
		}
		uc := UserChange{UserID: u.ID, Login: u.LoginName, Email: u.Email, RecordID: rec.ID, Active: rec.Active, user: u}
		for _, id := range u.SkillIDs {
			o, ok := owned[id]
			if !ok {
				continue // not ours: never touched
			}
			if !slices.ContainsFunc(want, func(w SkillRef) bool { return w.Skill == o.name }) {
				if problemRule[o.rule] || problemRec[rec.ID][o.rule] {
					a.KeptForProblems++
					continue
				}
				uc.Unassign = append(uc.Unassign, SkillRef{Skill: o.name, SkillID: id, Rule: o.rule})
			}
		}
		for _, w := range want {
			held := slices.ContainsFunc(u.SkillIDs, func(id int64) bool { o, ok := owned[id]; return ok && o.name == w.Skill })
			if !held {
				uc.Assign = append(uc.Assign, w)
			}
		}
		if len(uc.Assign)+len(uc.Unassign) > 0 {
			sortRefs(uc.Assign)
			sortRefs(uc.Unassign)
			a.Users = append(a.Users, uc)
		}
	}
	slices.SortFunc(a.Users, func(x, y UserChange) int { return cmp.Compare(x.UserID, y.UserID) })

	// Guard: at most max_changes_percent of the users considered lose
	// skills. The base is every user, not the matched ones: with a broken
	// match field few users match and everyone else looks departed.
	if in.MaxChangesPercent >= 0 {
		limit := int(math.Floor(float64(a.Considered) * in.MaxChangesPercent / 100))
		if in.MaxChangesPercent > 0 {
			limit = max(limit, 1)
		}
		losing := 0
		for i := range a.Users {
			u := &a.Users[i]
			if len(u.Unassign) == 0 {
				continue
			}
			losing++
			if losing > limit {
				u.HeldUnassign, u.Unassign = u.Unassign, nil
				a.HeldBack++
			}
		}
		if a.HeldBack > 0 {
			a.Notes = append(a.Notes, fmt.Sprintf("%d users keep skills they should lose until a later run: at most %d of %d users (assignments.max_changes_percent %v%%) may lose skills per run",
				a.HeldBack, limit, a.Considered, in.MaxChangesPercent))
		}
		// Users left with nothing to do this run stay listed: the plan
		// shows what waits.
	}
	if a.KeptForProblems > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d skill removals not planned: the skill's rule could not evaluate the user's HR record (see the record problems)", a.KeptForProblems))
	}
	if a.Departed > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d users have no HR record and lose the owned skills they hold (assignments.keep_unmatched: true leaves them alone)", a.Departed))
	}
	if a.UnmatchedRecords > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d active HR records match no LivePerson user by %s, e.g. %s", a.UnmatchedRecords, a.Match, strings.Join(a.UnmatchedExample, ", ")))
	}
	if a.Ambiguous > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d %s values match several records or users and are left alone, e.g. %s", a.Ambiguous, a.Match, strings.Join(a.AmbiguousExample, "; ")))
	}
	return a
}

func sortRefs(refs []SkillRef) {
	slices.SortFunc(refs, func(a, b SkillRef) int { return strings.Compare(a.Skill, b.Skill) })
}

// HoldReferencedDeletes keeps a skill from being deleted while something
// skillsync does not change in this run still holds it: a user (any user
// when users are known: managed ones after this run's assignments), or
// another skill's transfer list or fallback. The change becomes a pending
// delete that says what holds the skill.
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
	for i := range current {
		s := &current[i]
		if s.Deleted || deleting[s.ID] {
			continue
		}
		if a, ok := after[s.ID]; ok {
			s = a
		}
		for _, id := range s.SkillTransferList {
			add(id, fmt.Sprintf("skill %d %q (transfer list)", s.ID, s.Name))
		}
		if s.FallbackSkill != nil {
			add(*s.FallbackSkill, fmt.Sprintf("skill %d %q (fallback skill)", s.ID, s.Name))
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
			if !managed {
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

// planAssignments builds the users section of the plan and holds back
// deletes of skills that users will still hold.
func (rc *runContext) planAssignments(p *Plan, in PlanInput, snap *hrsource.Snapshot, users []liveperson.User) *AssignmentPlan {
	// Skills taken over by this plan are owned from its first write on.
	registry := append(slices.Clip(in.Registry), p.Takeovers...)
	return PlanAssignments(p, in.Desired, registry, in.Current, AssignInput{
		Records: snap.Records, Users: users, Match: rc.cfg.Assignments.Match, MaxChangesPercent: rc.cfg.Assignments.MaxChangesPercent,
		KeepUnmatched: rc.cfg.Assignments.KeepUnmatched, Problems: in.Problems,
	})
}

// assignPhase returns the applier's assignments step for plan p.
func (rc *runContext) assignPhase(ap *applier, p *Plan) func(ctx context.Context) error {
	users := rc.deps.Users
	return func(ctx context.Context) error {
		if p.Assignments == nil {
			return nil
		}
		return ap.assignUsers(ctx, users, p.Assignments)
	}
}

type userWrite struct {
	change     UserChange
	user       liveperson.User
	assigned   int
	unassigned int
	summary    string
	skills     string // the skills involved, for the journal's skill column
}

// assignUsers writes each changed user back whole (read-modify-write of
// the object read at plan time: only skillIds changes) in batches.
func (ap *applier) assignUsers(ctx context.Context, api UsersAPI, a *AssignmentPlan) error {
	wctx := context.WithoutCancel(ctx)
	var writes []userWrite
	for _, uc := range a.Users {
		if len(uc.Assign)+len(uc.Unassign) == 0 {
			continue
		}
		drop := map[int64]bool{}
		for _, r := range uc.Unassign {
			drop[r.SkillID] = true
		}
		ids := make([]int64, 0, len(uc.user.SkillIDs)+len(uc.Assign))
		for _, id := range uc.user.SkillIDs {
			if !drop[id] {
				ids = append(ids, id)
			}
		}
		var parts []string
		w := userWrite{change: uc}
		for _, r := range uc.Assign {
			id, ok := ap.idByName[strings.ToLower(r.Skill)]
			if !ok {
				// Its create failed: nothing to assign this run.
				continue
			}
			ids = append(ids, id)
			w.assigned++
			parts = append(parts, "+"+r.Skill)
		}
		for _, r := range uc.Unassign {
			parts = append(parts, "-"+r.Skill)
			w.unassigned++
		}
		if w.assigned+w.unassigned == 0 {
			continue
		}
		w.user = uc.user
		w.user.SkillIDs = sortedIDs(ids)
		w.summary = fmt.Sprintf("PUT users %d %s: %s", uc.UserID, cmp.Or(uc.Login, uc.Email), strings.Join(parts, " "))
		names := make([]string, len(parts))
		for i, p := range parts {
			names[i] = p[1:]
		}
		w.skills = strings.Join(names, ", ")
		writes = append(writes, w)
	}
	for _, batch := range chunks(writes, ap.batch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		ops := make([]store.Operation, len(batch))
		for i, w := range batch {
			ops[i] = store.Operation{RunID: ap.runID, Action: "assign", SkillName: w.skills, Request: w.summary, State: store.OpIntended}
		}
		jids, err := ap.store.JournalAdd(wctx, ap.runID, ops)
		if err != nil {
			return fmt.Errorf("journal assign: %w", err)
		}
		if err := ap.writeUsers(wctx, api, batch, jids); err != nil {
			return err
		}
	}
	return nil
}

func (ap *applier) writeUsers(ctx context.Context, api UsersAPI, batch []userWrite, jids []int64) error {
	if err := ap.mark(ctx, jids, store.OpSent, nil, nil); err != nil {
		return err
	}
	users := make([]liveperson.User, len(batch))
	for i, w := range batch {
		users[i] = w.user
	}
	err := api.UpdateUsers(ctx, users)
	if err == nil {
		for _, w := range batch {
			ap.counts.Assigned += w.assigned
			ap.counts.Unassigned += w.unassigned
			ap.log.Info("user skills updated", "user_id", w.change.UserID, "record", w.change.RecordID, "change", w.summary)
		}
		return ap.mark(ctx, jids, store.OpDone, nil, nil)
	}
	if errors.Is(err, liveperson.ErrConflict) || errors.Is(err, liveperson.ErrOutcomeUnknown) {
		return ap.conflict(ctx, jids, err)
	}
	if len(batch) == 1 {
		return ap.failed(ctx, jids, err)
	}
	ap.log.Warn("user batch failed; retrying user by user", "users", len(batch), "error", err)
	for i := range batch {
		if err := ap.writeUsers(ctx, api, batch[i:i+1], jids[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}
