package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
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
	// Considered counts the users who can hold skills (CanHoldSkills) and
	// are not disabled: the base of assignments.max_changes_percent.
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
	// Skipped counts users whose change is not written because the read
	// masked fields HR cannot fill (fullName, employeeId).
	Skipped int `json:"skipped_users,omitempty"`
	// Refusal is set when the removal cap held every removal: the run is
	// recorded refused with it.
	Refusal string `json:"refusal,omitempty"`
	// Notes say the above in words, for the text plan.
	Notes []string `json:"notes,omitempty"`

	// managed marks the users whose owned skills this plan decides.
	managed map[int64]bool
	// removable are the owned skills a user may lose: carriers of desired
	// skills, and skills deleted by this run.
	removable map[int64]bool
	// carriers are the ids of removable that carry a desired skill.
	carriers map[int64]bool
	// skippedUsers are the users not written (masked fields).
	skippedUsers map[int64]bool
}

func (a *AssignmentPlan) carrier(id int64) bool { return a.carriers[id] }

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

	user *liveperson.User // as read (the read's own, not a copy: never written to)
	fill []maskedValue    // the masked fields the write sets from HR
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
	// MaxChangesPercent caps the share of the users who can hold skills
	// that may lose skills in one run: above it, no removal is made at all
	// and the plan carries a refusal (Refusal). 0 lets no user lose a
	// skill; negative: no cap.
	MaxChangesPercent float64
	// KeepUnmatched leaves users without an HR record alone.
	KeepUnmatched bool
	// Problems are the records the rules skipped: a user whose record a
	// rule skipped keeps that rule's skills. A problem without a record id
	// (a rule's "more records skipped") holds the rule's skills for every
	// user unless Skipped lists the records.
	Problems []RecordProblem
	// Skipped lists every record each rule skipped (DesiredState.Skipped),
	// so that only the users of those records keep the rule's skills.
	Skipped map[string][]string
	// AgentProfileIDs, when set, are the profiles that make a user an
	// agent (assignments.agent_profile_ids): users with none of them are
	// not given skills (nor matched).
	AgentProfileIDs []int64

	// people, when set, stand for Records (PeopleOf them by Match): a run
	// keeps these, not the records, once its rules have run.
	people *hrPeople
}

// hrPeople are the HR records as assignments read them: of each record,
// its id, match key, name and employee id and whether it is active. A run
// keeps them in place of the records from the rules' evaluation on
// (planRun): at 1,000,000 records, about 85 bytes each (32, and the
// text) instead of the record (160 bytes), its values (16 bytes a
// column), its origin and its line of the feed (80).
type hrPeople struct {
	match string // the Match the keys were made by
	list  []hrPerson
}

// hrPerson is one record of hrPeople: its id, match key, name and
// employee id one after another in text, a copy in an arena (a record's
// values are cut from a larger string, the line of a CSV file, which
// they would keep alive).
type hrPerson struct {
	text                   string
	idEnd, keyEnd, nameEnd uint32
	active                 bool
}

func (p *hrPerson) id() string  { return p.text[:p.idEnd] }
func (p *hrPerson) key() string { return p.text[p.idEnd:p.keyEnd] } // matchKey of the record

// name and employeeID fill the fields the users read masks (maskedFill).
func (p *hrPerson) name() string       { return p.text[p.keyEnd:p.nameEnd] }
func (p *hrPerson) employeeID() string { return p.text[p.nameEnd:] }

// peopleOf returns the people of records, keyed by match.
func peopleOf(records []hrsource.Record, match string) *hrPeople {
	p := &hrPeople{match: match, list: make([]hrPerson, len(records))}
	var arena textArena
	for i := range records {
		r := &records[i]
		key := matchKey(match, r.Email, r.LoginName)
		b := arena.room(len(r.ID) + len(key) + len(r.Name) + len(r.EmployeeID))
		n := copy(b, r.ID)
		n += copy(b[n:], key)
		m := n + copy(b[n:], r.Name)
		copy(b[m:], r.EmployeeID)
		p.list[i] = hrPerson{text: text(b), idEnd: uint32(len(r.ID)), keyEnd: uint32(n), nameEnd: uint32(m), active: r.Active}
	}
	return p
}

// maskedUserFields are the user fields the Users API returns empty (PII
// masking) although LivePerson keeps them; an update replaces the whole
// user, so they must be sent with their values or the user not written.
var maskedUserFields = []string{"fullName", "employeeId"}

func matchKey(match, email, login string) string {
	if match == "login_name" {
		return strings.ToLower(strings.TrimSpace(login))
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// CanHoldSkills reports whether a LivePerson user is a person who can
// hold skills (design §7.7): not deleted, userTypeId 1 (human; absent
// means human), isApiUser not true, and, when agentProfiles is set, one of
// those profiles. Bots and API users are never matched to HR records.
func CanHoldSkills(u *liveperson.User, agentProfiles []int64) bool {
	if u.Deleted {
		return false
	}
	if v, _ := u.Field("userTypeId"); len(v) > 0 {
		if t, ok := rawInt(v); ok && t != 1 {
			return false
		}
	}
	if v, _ := u.Field("isApiUser"); rawBool(v) {
		return false
	}
	if len(agentProfiles) > 0 {
		v, _ := u.Field("profileIds")
		ids, _ := rawInts(v)
		return slices.ContainsFunc(ids, func(id int64) bool { return slices.Contains(agentProfiles, id) })
	}
	return true
}

// enabled reports whether a user is not disabled (isEnabled false).
func enabled(u *liveperson.User) bool {
	raw, ok := u.Field("isEnabled")
	return !ok || rawBool(raw) || strings.TrimSpace(string(raw)) == "null"
}

// rawInt decodes a number or numeric string (LivePerson mixes both).
func rawInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	if n, ok := plainInt(raw); ok {
		return n, true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	switch v := v.(type) {
	case float64:
		return int64(v), v == math.Trunc(v)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// plainInt is the value of a JSON integer of at most 15 digits (exact in
// the float64 that json.Unmarshal gives), the common case, decoded
// without json.Unmarshal; ok is false for anything else.
func plainInt(raw []byte) (int64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(raw) {
		n = -n
	}
	return n, true
}

func rawBool(raw json.RawMessage) bool {
	switch string(raw) { // the common cases, without json.Unmarshal
	case "true":
		return true
	case "false", "null":
		return false
	}
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return false
}

func rawInts(raw json.RawMessage) ([]int64, bool) {
	var vs []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &vs) != nil {
		return nil, false
	}
	out := make([]int64, 0, len(vs))
	for _, v := range vs {
		if n, ok := rawInt(v); ok {
			out = append(out, n)
		}
	}
	return out, true
}

// maskedValue is a masked field's value to send, from HR.
type maskedValue struct {
	field string
	value json.RawMessage
}

// maskedFill returns the values from the HR record of the fields of u that
// the read masked (read back as ""), or why it cannot: a field the read
// masked is never written back blank. The write fills them (withFilled):
// the plan keeps these few values, not a copy of every user it writes.
func maskedFill(u *liveperson.User, rec *hrPerson) ([]maskedValue, string) {
	var missing []string
	var fill []maskedValue
	for _, f := range maskedUserFields {
		v, ok := u.Field(f)
		if !ok || string(v) != `""` {
			continue // not masked: sent back as read
		}
		var val string
		if rec != nil {
			switch f {
			case "fullName":
				val = strings.TrimSpace(rec.name())
			case "employeeId":
				val = strings.TrimSpace(rec.employeeID())
			}
		}
		if val == "" {
			missing = append(missing, f)
			continue
		}
		fill = append(fill, maskedValue{field: f, value: quoteJSON(val)})
	}
	if len(missing) > 0 {
		return nil, strings.Join(missing, " and ")
	}
	return fill, ""
}

// quoteJSON is json.Marshal(s): a string of plain ASCII (the usual
// name or employee id) quoted as it is, without the encoder's reflection,
// any other as json.Marshal writes it.
func quoteJSON(s string) json.RawMessage {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return enc
		}
	}
	out := make(json.RawMessage, 0, len(s)+2)
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// withFilled returns u with the masked fields set to fill, on a copy of
// its fields: the read users stay as read.
func withFilled(u liveperson.User, fill []maskedValue) liveperson.User {
	if len(fill) == 0 {
		return u
	}
	u.Raw = maps.Clone(u.Raw)
	for _, f := range fill {
		u.SetField(f.field, f.value)
	}
	return u
}

// PlanAssignments works out, for every LivePerson user who can hold skills
// and is matched to exactly one HR record (an active one preferred), the
// owned skills to add and remove so that the user holds exactly the owned
// skills whose rules selected the record. Skills that skillsync does not
// own are never part of it; a skill pending deletion is never removed
// from anyone (it is removed in the run that deletes it); policies
// upsert-only and create-only remove nothing. p is the skills plan (it says
// which skill carries each desired skill after the run).
func PlanAssignments(p *Plan, desired []DesiredSkill, registry []store.OwnedSkill, current []liveperson.Skill, in AssignInput) *AssignmentPlan {
	as := newAssigner(p, in)
	if in.people == nil || in.people.match != as.a.Match {
		as.people = peopleOf(in.Records, as.a.Match).list
	} else {
		as.people = in.people.list
	}
	as.ownedAfterRun(registry, current)
	as.wantedSkills(p, desired)
	as.indexUsers()
	as.indexRecords()
	as.countUnmatched()
	as.matchHolders()
	as.membersOf(desired)
	as.problemHolds()
	// At most one change per holder: the list is made once, at that size,
	// and never grown or copied (a million records' 200,000 changes of
	// 168 bytes are 34 MB: joining them from blocks copied them once more,
	// on pages just faulted in).
	as.users = make([]UserChange, 0, len(as.holders))
	for h := range as.holders {
		as.planUser(h)
	}
	as.a.Users = as.users
	switch n := len(as.users); {
	case n == 0:
		as.a.Users = nil
	case n < cap(as.users)/4:
		// A few changes (a day's churn) keep no room for every user.
		as.a.Users = slices.Clone(as.users)
	}
	as.users = nil
	return as.finish()
}

// assigner is the state of one PlanAssignments.
type assigner struct {
	a        *AssignmentPlan
	in       AssignInput
	people   []hrPerson // the records (AssignInput.people)
	ids      textArena  // the record ids of the plan's user changes
	removals bool       // the policy removes skills from users

	// owned are the owned skills after the run (static ones excepted).
	owned map[int64]ownedInfo
	// wants are the desired skills skillsync carries after the run, and
	// memberOf, by record id, the indexes of those whose rule selected
	// the record.
	wants    []want
	wantIdx  map[string]int // NameKey of desired name → index in wants
	memberOf map[string][]int

	recordsByKey keyIndex // match key → records
	userKeys     []string // match key of each user who can hold skills
	usersByKey   keyIndex // match key → users who can hold skills
	holders      []int    // users who can hold skills
	matches      []match  // the record of each holder

	// problemRule are rules every record of which is held; problemRec,
	// by record id, the rules that skipped the record.
	problemRule map[string]bool
	problemRec  map[string]map[string]bool
	skillHeld   map[string]map[string]bool // record id → name keys (problemSkillHolds)

	ambiguous []string // match keys left alone
	skipped   []string // users not written, as the note names them
	// users are the planned changes (AssignmentPlan.Users), in a list
	// with room for one per holder: appending 200,000 changes to a list
	// grown by doubling copied them over and over, and left it up to
	// twice their size.
	users []UserChange
}

// ownedInfo is an owned skill's name and rule after the run.
type ownedInfo struct{ name, rule string }

// match is a holder's match key and record, worked out once.
type match struct {
	key       string
	rec       *hrPerson
	ambiguous bool // several active records or users share key
}

// want is a desired skill and the skill that carries it (id 0: created
// by this run).
type want struct {
	ref SkillRef
	id  int64
}

func newAssigner(p *Plan, in AssignInput) *assigner {
	return &assigner{in: in, removals: p.Policy == "" || p.Policy == PolicySync,
		a: &AssignmentPlan{Match: cmp.Or(in.Match, "email"), managed: map[int64]bool{}, removable: map[int64]bool{}, carriers: map[int64]bool{}, skippedUsers: map[int64]bool{}}}
}

// ownedAfterRun lists the owned skills after the run: id → name and rule.
func (as *assigner) ownedAfterRun(registry []store.OwnedSkill, current []liveperson.Skill) {
	curByID := make(map[int64]*liveperson.Skill, len(current))
	for i := range current {
		curByID[current[i].ID] = &current[i]
	}
	as.owned = map[int64]ownedInfo{}
	for _, r := range registry {
		if r.ReleasedAt != nil || strings.HasPrefix(r.RuleID, staticRulePrefix) {
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
		as.owned[r.SkillID] = ownedInfo{name: name, rule: r.RuleID}
	}
}

// wantedSkills finds what each desired skill is carried by, and which
// owned skills a user may lose: those that carry a desired skill (the
// user is not a member) and those this run deletes. Any other owned skill
// (pending deletion, missing from the list) stays where it is.
func (as *assigner) wantedSkills(p *Plan, desired []DesiredSkill) {
	a := as.a
	as.wantIdx = map[string]int{}
	for _, d := range desired {
		if d.Static {
			continue
		}
		c, ok := p.carriers[nameKey(d.Name)]
		if !ok {
			continue // not (going to be) ours: a conflict
		}
		if !c.create {
			as.owned[c.id] = ownedInfo{name: d.Name, rule: d.RuleID}
			a.removable[c.id], a.carriers[c.id] = true, true
		}
		as.wantIdx[nameKey(d.Name)] = len(as.wants)
		as.wants = append(as.wants, want{ref: SkillRef{Skill: d.Name, SkillID: c.id, Rule: d.RuleID}, id: c.id})
	}
	for _, c := range p.Changes {
		if c.Action == ActionDelete {
			a.removable[c.SkillID] = true
		}
	}
}

// membersOf lists, by record id, the indexes in wants of the desired
// skills whose rule selected the record: only for the records matched to
// a user (matchHolders), the others have no use for it.
func (as *assigner) membersOf(desired []DesiredSkill) {
	matched := make(map[string]bool, len(as.matches))
	for _, m := range as.matches {
		if !m.ambiguous && m.rec != nil && m.rec.active {
			matched[m.rec.id()] = true
		}
	}
	as.memberOf = make(map[string][]int, len(matched))
	for _, d := range desired {
		wi, ok := as.wantIdx[nameKey(d.Name)]
		if !ok || d.Static {
			continue
		}
		for _, m := range d.Members {
			if matched[m] {
				as.memberOf[m] = append(as.memberOf[m], wi)
			}
		}
	}
}

// indexRecords indexes the records by match key: an inactive record (an
// old contract, a rehire's former one) never makes a match ambiguous.
// Only the keys of users (indexUsers) are indexed: no other is looked up,
// and most records (100,000 for 20,000 users) have none.
func (as *assigner) indexRecords() {
	as.recordsByKey = newKeyIndex(len(as.people), func(i int) string { return as.people[i].key() }, len(as.usersByKey.first), as.usersByKey.has)
}

// recordFor is the record of match key k and how many records have it:
// the one active record, nil when several are active, else the inactive
// one with the smallest id.
func (as *assigner) recordFor(k string) (rec *hrPerson, n int) {
	records := as.people
	var act []int32
	for i := range as.recordsByKey.all(k) {
		if records[i].active {
			act = append(act, i)
		}
	}
	switch {
	case len(act) == 1:
		return &records[act[0]], 1
	case len(act) > 1:
		return nil, len(act)
	}
	for i := range as.recordsByKey.all(k) { // all inactive: the smallest id
		n++
		if rec == nil || compareIDs(records[i].id(), rec.id()) < 0 {
			rec = &records[i]
		}
	}
	return rec, n
}

// indexUsers lists the users who can hold skills, and indexes them by
// match key.
func (as *assigner) indexUsers() {
	as.holders = make([]int, 0, len(as.in.Users))
	as.userKeys = make([]string, len(as.in.Users))
	for i := range as.in.Users {
		u := &as.in.Users[i]
		if !CanHoldSkills(u, as.in.AgentProfileIDs) {
			continue
		}
		as.holders = append(as.holders, i)
		if enabled(u) {
			as.a.Considered++
		}
		as.userKeys[i] = matchKey(as.a.Match, u.Email, u.LoginName)
	}
	as.usersByKey = newKeyIndex(len(as.userKeys), func(i int) string { return as.userKeys[i] }, len(as.holders), nil)
}

// matchHolders finds the record of each user who can hold skills: a
// match key several active records or users share is ambiguous.
func (as *assigner) matchHolders() {
	as.matches = make([]match, len(as.holders))
	for h, i := range as.holders {
		m := match{key: as.userKeys[i]}
		if m.key != "" {
			var n int
			m.rec, n = as.recordFor(m.key)
			m.ambiguous = n > 1 && m.rec == nil || as.usersByKey.len(m.key) > 1
		}
		as.matches[h] = m
	}
}

// countUnmatched counts the active records no user matches, with
// examples.
func (as *assigner) countUnmatched() {
	a := as.a
	var unmatched []*hrPerson // the examples: the smallest ids
	for i := range as.people {
		r := &as.people[i]
		if !r.active {
			continue
		}
		if k := r.key(); k != "" && as.usersByKey.has(k) {
			continue
		}
		a.UnmatchedRecords++
		unmatched = keepSmallest(unmatched, r, maxExamples)
	}
	for _, r := range unmatched {
		a.UnmatchedExample = append(a.UnmatchedExample, fmt.Sprintf("record %s (%s)", r.id(), cmp.Or(r.key(), "no "+a.Match)))
	}
}

// problemHolds notes the records each rule skipped: a user does not lose
// a skill whose rule could not evaluate the user's record.
func (as *assigner) problemHolds() {
	as.problemRule = map[string]bool{}
	as.problemRec = map[string]map[string]bool{}
	hold := func(rec, rule string) {
		if as.problemRec[rec] == nil {
			as.problemRec[rec] = map[string]bool{}
		}
		as.problemRec[rec][rule] = true
	}
	for rule, ids := range as.in.Skipped {
		for _, id := range ids {
			hold(id, rule)
		}
	}
	as.skillHeld = problemSkillHolds(as.in.Problems)
	for _, pr := range as.in.Problems {
		switch {
		case pr.holds != nil: // only the skills in skillHeld
		case pr.RecordID != "":
			hold(pr.RecordID, pr.RuleID)
		case as.in.Skipped == nil:
			as.problemRule[pr.RuleID] = true
		}
	}
}

// planUser plans the skills of holder h (as.holders): matched to one
// record, the owned skills to add and remove; a match key several records
// or users share is left alone.
func (as *assigner) planUser(h int) {
	a := as.a
	u := &as.in.Users[as.holders[h]]
	k, rec := as.matches[h].key, as.matches[h].rec
	if as.matches[h].ambiguous {
		if !slices.Contains(as.ambiguous, k) {
			as.ambiguous = append(as.ambiguous, k)
			a.AmbiguousExample = append(a.AmbiguousExample, fmt.Sprintf("%s: %d records, %d users", k, as.recordsByKey.len(k), as.usersByKey.len(k)))
		}
		return
	}
	uc := UserChange{UserID: u.ID, Login: u.LoginName, Email: u.Email, user: u}
	var wanted []want
	if rec == nil {
		// No HR record: someone who left and is gone from the feed.
		// They lose the owned skills they hold (others stay), unless
		// assignments.keep_unmatched says such users are not managed.
		if as.in.KeepUnmatched {
			return
		}
	} else {
		// A copy of its own: the plan outlives the people.
		uc.RecordID, uc.Active = as.ids.str(rec.id()), rec.active
		a.Matched++
		if rec.active {
			for _, wi := range as.memberOf[rec.id()] {
				wanted = append(wanted, as.wants[wi])
			}
		}
	}
	a.managed[u.ID] = true
	for _, id := range u.SkillIDs {
		o, ok := as.owned[id]
		if !ok || !a.removable[id] || !as.removals {
			continue // not ours, pending deletion, or a policy without removals
		}
		if slices.ContainsFunc(wanted, func(w want) bool { return w.id == id }) {
			continue
		}
		if rec != nil && (as.problemRule[o.rule] || as.problemRec[rec.id()][o.rule] || as.skillHeld[rec.id()][nameKey(o.name)]) {
			a.KeptForProblems++
			continue
		}
		uc.Unassign = append(uc.Unassign, SkillRef{Skill: o.name, SkillID: id, Rule: o.rule})
	}
	for _, w := range wanted {
		if w.id == 0 || !slices.Contains(u.SkillIDs, w.id) {
			uc.Assign = append(uc.Assign, w.ref)
		}
	}
	if len(uc.Assign)+len(uc.Unassign) == 0 {
		return
	}
	// The write replaces the whole user: the fields the read masked
	// are filled from HR, or the user is not written at all.
	fill, missing := maskedFill(u, rec)
	if missing != "" {
		a.Skipped++
		who := fmt.Sprintf("user %d %s", u.ID, cmp.Or(u.LoginName, u.Email))
		if rec == nil {
			as.skipped = append(as.skipped, who+" (no HR record)")
		} else {
			as.skipped = append(as.skipped, fmt.Sprintf("%s (record %s lacks %s)", who, rec.id(), missing))
		}
		a.managed[u.ID] = false
		a.skippedUsers[u.ID] = true
		return
	}
	uc.fill = fill
	if rec == nil {
		a.Departed++
	}
	sortRefs(uc.Assign)
	sortRefs(uc.Unassign)
	as.users = append(as.users, uc) // within its room: one change per holder
}

// keyIndex lists the indexes of the items that have each key, in index
// order, without a slice per key: most keys (an e-mail, a login) belong to
// one item.
type keyIndex struct {
	first map[string]int32
	next  []int32 // the next index with the same key; -1 ends the list
}

// newKeyIndex indexes the keys of n items (key(i) of item i), about size
// different ones; an empty key is not indexed, nor one that want (unless
// nil) refuses.
func newKeyIndex(n int, key func(i int) string, size int, want func(string) bool) keyIndex {
	ix := keyIndex{first: make(map[string]int32, size), next: make([]int32, n)}
	// Backwards, so that each list comes out in index order.
	for i := n - 1; i >= 0; i-- {
		ix.next[i] = -1
		k := key(i)
		if k == "" || want != nil && !want(k) {
			continue
		}
		if j, ok := ix.first[k]; ok {
			ix.next[i] = j
		}
		ix.first[k] = int32(i)
	}
	return ix
}

// all yields the indexes of the items with key k, in index order.
func (ix keyIndex) all(k string) iter.Seq[int32] {
	return func(yield func(int32) bool) {
		i, ok := ix.first[k]
		for ok && i >= 0 {
			if !yield(i) {
				return
			}
			i = ix.next[i]
		}
	}
}

// has reports whether an item has key k.
func (ix keyIndex) has(k string) bool {
	_, ok := ix.first[k]
	return ok
}

// len is the number of items with key k.
func (ix keyIndex) len(k string) int {
	n := 0
	for range ix.all(k) {
		n++
	}
	return n
}

// keepSmallest adds r to the at most n records of rs with the smallest ids
// (compareIDs), kept in that order.
func keepSmallest(rs []*hrPerson, r *hrPerson, n int) []*hrPerson {
	if len(rs) == n && compareIDs(r.id(), rs[n-1].id()) >= 0 {
		return rs // the common case: not among the smallest
	}
	at, _ := slices.BinarySearchFunc(rs, r, func(x, y *hrPerson) int { return compareIDs(x.id(), y.id()) })
	if at >= n {
		return rs
	}
	rs = slices.Insert(rs, at, r)
	return rs[:min(len(rs), n)]
}

// finish sorts the plan, applies the removal cap and writes its notes.
func (as *assigner) finish() *AssignmentPlan {
	a := as.a
	slices.SortFunc(a.Users, func(x, y UserChange) int { return cmp.Compare(x.UserID, y.UserID) })
	slices.Sort(as.ambiguous)
	a.Ambiguous = len(as.ambiguous)
	slices.Sort(a.AmbiguousExample)
	a.AmbiguousExample = a.AmbiguousExample[:min(len(a.AmbiguousExample), maxExamples)]

	a.capRemovals(as.in.MaxChangesPercent)
	skipped := as.skipped
	slices.Sort(skipped) // by user id, whatever the order of the list
	skipped = skipped[:min(len(skipped), maxExamples)]
	if a.Skipped > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d users not written: LivePerson masks their fullName and employeeId on read and replaces the whole user on update, and HR gives no value to send back (hr.fields.name, hr.fields.employee_id), e.g. %s",
			a.Skipped, strings.Join(skipped, ", ")))
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
		a.Notes = append(a.Notes, fmt.Sprintf("%d %s values match several active records or users and are left alone, e.g. %s", a.Ambiguous, a.Match, strings.Join(a.AmbiguousExample, "; ")))
	}
	return a
}

// capRemovals is the removal cap (assignments.max_changes_percent): when
// more users would lose skills than the cap allows of the users who can
// hold skills, every removal is held (none is made, not a trickle) and the
// plan carries a refusal with the numbers. Grants still go ahead.
func (a *AssignmentPlan) capRemovals(pct float64) {
	if pct < 0 {
		return
	}
	losing := 0
	for _, u := range a.Users {
		if len(u.Unassign) > 0 {
			losing++
		}
	}
	limit := int(math.Floor(float64(a.Considered) * pct / 100))
	if pct > 0 {
		// A positive cap lets one user lose skills, so that a small
		// account converges.
		limit = max(limit, 1)
	}
	if losing <= limit {
		return
	}
	for i := range a.Users {
		u := &a.Users[i]
		if len(u.Unassign) > 0 {
			u.HeldUnassign, u.Unassign = u.Unassign, nil
			a.HeldBack++
		}
	}
	share := 100.0
	if a.Considered > 0 {
		share = float64(losing) * 100 / float64(a.Considered)
	}
	a.Refusal = fmt.Sprintf("assignments: %d of %d users would lose skills (%.1f%%), more than assignments.max_changes_percent (%v%%); "+
		"no skill was removed from any user (creates, updates and skill grants went ahead); every run is refused like this until the mismatch ends "+
		"(check hr.fields.%s and assignments.match against LivePerson's users, and assignments.keep_unmatched) or, if the removals are intended, "+
		"assignments.max_changes_percent is raised for a run",
		losing, a.Considered, share, pct, a.Match)
	a.Notes = append(a.Notes, fmt.Sprintf("%d users keep skills they would lose: %d of %d users would lose skills, more than assignments.max_changes_percent (%v%%) allows; the run is refused for assignments",
		a.HeldBack, losing, a.Considered, pct))
}

// keepPending takes back the removals of skills that the plan no longer
// deletes (a guard or budget held the delete after assignments were
// planned): a skill pending deletion keeps its assignments.
func (a *AssignmentPlan) keepPending(p *Plan) {
	deleting := map[int64]bool{}
	for _, c := range p.Changes {
		if c.Action == ActionDelete {
			deleting[c.SkillID] = true
		}
	}
	keep := func(r SkillRef) bool {
		return !a.removable[r.SkillID] || !a.carrier(r.SkillID) && !deleting[r.SkillID]
	}
	kept := map[string]int{} // skill → members who keep it
	users := a.Users[:0]
	for _, u := range a.Users {
		for _, r := range slices.Concat(u.Unassign, u.HeldUnassign) {
			if keep(r) {
				kept[r.Skill]++
			}
		}
		u.Unassign = slices.DeleteFunc(u.Unassign, keep)
		u.HeldUnassign = slices.DeleteFunc(u.HeldUnassign, keep)
		if len(u.Assign)+len(u.Unassign)+len(u.HeldUnassign) > 0 {
			users = append(users, u)
		}
	}
	a.Users = users
	// Say so: the plan shows these users matched to a record that no
	// longer selects the skill, and still holding it.
	for _, name := range slices.Sorted(maps.Keys(kept)) {
		a.Notes = append(a.Notes, fmt.Sprintf("%q is a pending delete whose members keep the skill: %d users matched to HR keep it until it is deleted (its delete waits, see its reason)", name, kept[name]))
	}
}

func sortRefs(refs []SkillRef) {
	slices.SortFunc(refs, func(a, b SkillRef) int { return strings.Compare(a.Skill, b.Skill) })
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

// userWrite is one user's write, planned before the first batch is
// sent and kept until the last: it holds the user's change (in the plan)
// and its new skill ids, not a copy of the user, which is made a batch at
// a time (writeUsers).
type userWrite struct {
	change     *UserChange
	skillIDs   []int64
	assigned   int
	unassigned int
	summary    string
	skills     string // the skills involved, for the journal's skill column
}

// assignUsers writes each changed user back whole (read-modify-write of
// the object read at plan time: only skillIds changes) in batches.
func (ap *applier) assignUsers(ctx context.Context, api UsersAPI, a *AssignmentPlan) error {
	wctx := context.WithoutCancel(ctx)
	writes := make([]userWrite, 0, len(a.Users))
	for i := range a.Users {
		uc := &a.Users[i]
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
			id, ok := r.SkillID, r.SkillID != 0
			if !ok {
				// Created by this run: known by name once created.
				id, ok = ap.idByName[nameKey(r.Skill)]
			}
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
		slices.Sort(ids) // ids is this write's own: sorted in place
		w.skillIDs = slices.Compact(ids)
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
		// As for skills: nothing is journaled, let alone sent, once the
		// run lock is lost.
		if err := ap.holdsLock(wctx); err != nil {
			return err
		}
		ops := make([]store.Operation, len(batch))
		for i, w := range batch {
			// Sent, durably, before the call (applier.journal).
			ops[i] = store.Operation{RunID: ap.runID, Action: "assign", SkillName: w.skills, Request: w.summary, State: store.OpSent}
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

// writeUsers sends one batch of users, whose rows are journaled sent.
func (ap *applier) writeUsers(ctx context.Context, api UsersAPI, batch []userWrite, jids []int64) error {
	users := make([]liveperson.User, len(batch))
	for i, w := range batch {
		// Copied and filled here, a batch at a time: the copies live
		// while it does.
		u := *w.change.user
		u.SkillIDs = w.skillIDs
		users[i] = withFilled(u, w.change.fill)
	}
	sent := ap.rev
	rev, err := api.UpdateUsers(ctx, sent, users)
	ap.advance(rev)
	if unconfirmedLock(err) {
		return ap.unsent(ctx, jids, err)
	}
	if err == nil {
		if err := ap.proven(ctx, sent); err != nil {
			return err
		}
		assigned, unassigned := 0, 0
		for _, w := range batch {
			assigned += w.assigned
			unassigned += w.unassigned
			ap.log.Debug("user skills updated", "user_id", w.change.UserID, "record", w.change.RecordID, "change", w.summary)
		}
		ap.counts.Assigned += assigned
		ap.counts.Unassigned += unassigned
		// One line per batch at info: 20,000 users are 20,000 lines
		// otherwise, and the journal keeps every user's change.
		ap.log.Info("users updated", "users", len(batch), "assigned", assigned, "unassigned", unassigned)
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
