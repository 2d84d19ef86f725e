package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store"
)

// Effective dating (design §7.5): on day D (in the configured time zone) a
// record is in force when its start date is empty or ≤ D and its end date
// is empty or ≥ D, and hr.active holds. A run plans with the records in
// force today (or on the day of plan --as-of), creates a skill up to
// skills.precreate_days before its group reaches min_members, and lists
// what dated records change within sync.lookahead_days.

// DefaultLookaheadDays is sync.lookahead_days when unset.
const DefaultLookaheadDays = 14

// maxDatedDays bounds sync.lookahead_days and skills.precreate_days: a
// plan evaluates the rules once per day on which a record starts or ends
// within them.
const maxDatedDays = 366

// Upcoming actions.
const (
	UpcomingCreate        = "create"
	UpcomingPendingDelete = "pending_delete"
)

// Upcoming is a change dated records make on a day within
// sync.lookahead_days: a skill to be created, or one that leaves the
// desired state and becomes pending deletion (deleted after the delete
// grace, as any other).
// Members are the members in force on its date of a skill to be
// created, and those a skill to become pending deletion had on the day
// before its date.
type Upcoming struct {
	Date    hrsource.Date `json:"date"`
	Action  string        `json:"action"`
	Skill   string        `json:"skill"`
	Rule    string        `json:"rule,omitempty"`
	Members int           `json:"members"`
}

// Dated is the effective-dating part of a plan: the day it was made as of
// and the upcoming changes (nil when hr.fields maps no date).
type Dated struct {
	AsOf          hrsource.Date `json:"as_of"`
	LookaheadDays int           `json:"lookahead_days"`
	// Precreated are the skills in the plan's desired state only because
	// their group reaches min_members within skills.precreate_days.
	Precreated []string   `json:"precreated,omitempty"`
	Upcoming   []Upcoming `json:"upcoming"`
}

type asOfKey struct{}

// WithAsOf makes the runs of ctx plan as of day d (plan --as-of). Such a
// run must be a dry run: RunOnce refuses to apply as of another day.
func WithAsOf(ctx context.Context, d hrsource.Date) context.Context {
	return context.WithValue(ctx, asOfKey{}, d)
}

// AsOf returns the day WithAsOf set on ctx.
func AsOf(ctx context.Context) (hrsource.Date, bool) {
	d, ok := ctx.Value(asOfKey{}).(hrsource.Date)
	return d, ok && d != 0
}

// errAsOfApply is returned for an apply run asked to run as of a day.
var errAsOfApply = errors.New("a run as of another day (--as-of) is a dry run only: nothing is applied")

// validateDated checks sync.lookahead_days and skills.precreate_days.
func validateDated(cfg Config) []error {
	var errs []error
	for _, v := range []struct {
		key string
		n   int
	}{{"sync.lookahead_days", cfg.Sync.LookaheadDays}, {"skills.precreate_days", cfg.Skills.PrecreateDays}} {
		if v.n < 0 || v.n > maxDatedDays {
			errs = append(errs, fmt.Errorf("%s: %d; it must be between 0 and %d days", v.key, v.n, maxDatedDays))
		}
	}
	return errs
}

// datedRun is what effective dating decides for one run.
type datedRun struct {
	rules    *Rules
	cfg      Config
	day      hrsource.Date
	snap     *hrsource.Snapshot // as read
	plan     *Dated
	warnings []string
}

// today returns the run's day: the --as-of day, else today in the
// configured zone.
func (rc *runContext) today(ctx context.Context) hrsource.Date {
	if d, ok := AsOf(ctx); ok {
		return d
	}
	return rc.realToday()
}

// realToday returns today in the configured zone, whatever --as-of says.
func (rc *runContext) realToday() hrsource.Date {
	loc := rc.cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	return hrsource.DateOf(rc.deps.Now().In(loc))
}

// inForce returns the snapshot the run plans with: the records as read
// with Active set only on those in force on day. Without dates it is snap.
func inForce(snap *hrsource.Snapshot, day hrsource.Date) *hrsource.Snapshot {
	if !snap.Dated {
		return snap
	}
	view := *snap
	view.Records = slices.Clone(snap.Records)
	view.Stats.Active = 0
	for i := range view.Records {
		r := &view.Records[i]
		r.Active = r.Active && r.InForce(day)
		if r.Active {
			view.Stats.Active++
		}
	}
	return &view
}

// healthView returns the snapshot the source-health guard judges: the
// records in force today. For a run as of another day it is not the one
// planned with: the guard tells a broken feed from a healthy one against
// the baseline of the last apply run, and a drop between today and the
// day planned (the terminations at a month's end the operator wants to
// preview) is no sign of a broken feed.
func (rc *runContext) healthView(ctx context.Context, planned *hrsource.Snapshot) *hrsource.Snapshot {
	if _, ok := AsOf(ctx); !ok || rc.datedRun == nil {
		return planned
	}
	return inForce(rc.datedRun.snap, rc.realToday())
}

// dated starts the effective dating of a run: it returns the snapshot of
// the records in force on the run's day.
func (rc *runContext) dated(ctx context.Context, mode store.Mode, snap *hrsource.Snapshot) (*hrsource.Snapshot, error) {
	if _, ok := AsOf(ctx); ok && mode != store.ModePlan {
		return nil, errAsOfApply // RunOnce refuses it first
	}
	rc.datedRun = &datedRun{rules: rc.rules, cfg: rc.cfg, day: rc.today(ctx), snap: snap}
	if d, ok := AsOf(ctx); ok && !snap.Dated {
		rc.datedRun.warnings = append(rc.datedRun.warnings, fmt.Sprintf("--as-of %s changes nothing: hr.fields maps no start_date or end_date, so every record is in force on every day; this is today's plan", d))
	}
	rc.datedRun.staleEnds()
	return inForce(snap, rc.datedRun.day), nil
}

// maxStaleEndWarnings bounds the warnings of staleEnds.
const maxStaleEndWarnings = 5

// staleEnds warns of the active records whose end date is before their
// start date: a rehire whose record still carries the previous
// employment's termination. The end date is ignored (hrsource), and the
// record is in force from its start date.
func (d *datedRun) staleEnds() {
	var stale []*hrsource.Record
	for i := range d.snap.Records {
		if r := &d.snap.Records[i]; r.Active && r.StaleEnd != 0 {
			stale = append(stale, r)
		}
	}
	slices.SortFunc(stale, func(a, b *hrsource.Record) int { return compareIDs(a.ID, b.ID) })
	for i, r := range stale {
		if i == maxStaleEndWarnings {
			d.warnings = append(d.warnings, fmt.Sprintf("%d more records have an end date before their start date, ignored the same way", len(stale)-i))
			return
		}
		where := "record " + r.ID
		if r.Origin != "" {
			where += " (" + r.Origin + ")"
		}
		d.warnings = append(d.warnings, fmt.Sprintf("%s: end date %s is before start date %s: taken for an earlier employment's (a rehire) and ignored; the record is in force from %s", where, r.StaleEnd, r.Start, r.Start))
	}
}

// complete adds to the desired state of the run's day what dating decides:
// records whose dates could not be read are problems of every rule (so
// the deletes they could cause are held and their users keep the rules'
// skills); skills whose group reaches min_members within
// skills.precreate_days are created now, with the members in force today;
// and the upcoming changes are listed.
func (d *datedRun) complete(desired *DesiredState) {
	if d == nil || !d.snap.Dated {
		return
	}
	d.addDateProblems(desired)
	lookahead, pre := d.cfg.Sync.LookaheadDays, d.cfg.Skills.PrecreateDays
	d.plan = &Dated{AsOf: d.day, LookaheadDays: lookahead, Upcoming: []Upcoming{}}
	d.headcountDrops(d.day.AddDays(lookahead))
	horizon := d.day.AddDays(lookahead + pre)
	groups, err := d.window(horizon)
	if err != nil {
		d.warnings = append(d.warnings, fmt.Sprintf("upcoming: the rules fail on the records in force within the next %d days, so no upcoming change is listed: %s", lookahead+pre, oneLine(err.Error())))
		return
	}

	// The desired state only changes on the days a record starts or the
	// day after one ends.
	changeDays := map[hrsource.Date]bool{}
	for i := range d.snap.Records {
		r := &d.snap.Records[i]
		if !r.Active || r.DateProblem != "" {
			continue
		}
		if r.Start > d.day && r.Start <= horizon {
			changeDays[r.Start] = true
		}
		if r.End != 0 && r.End >= d.day && r.End.AddDays(1) <= horizon {
			changeDays[r.End.AddDays(1)] = true
		}
	}
	days := slices.Sorted(maps.Keys(changeDays))
	plain := map[hrsource.Date]map[string]DesiredSkill{d.day: groups.on(d.day)}
	for _, day := range days {
		plain[day] = groups.on(day)
	}
	// effective is the desired state on a day with precreation: the
	// skills desired on any day up to precreate_days later.
	effective := func(day hrsource.Date) map[string]DesiredSkill {
		out := maps.Clone(plain[d.lastDay(days, day)])
		for _, c := range days {
			if c > day && c <= day.AddDays(pre) {
				for k, s := range plain[c] {
					if _, ok := out[k]; !ok {
						out[k] = s
					}
				}
			}
		}
		return out
	}
	today := effective(d.day)
	d.precreate(desired, today, groups)

	// The upcoming changes: the first day within the lookahead on which
	// each skill enters the desired state, and the first on which it
	// leaves it (a skill created on one day and left on a later one has
	// both).
	evalDays := map[hrsource.Date]bool{}
	end := d.day.AddDays(lookahead)
	for _, c := range days {
		for _, e := range []hrsource.Date{c, c.AddDays(-pre)} {
			if e > d.day && e <= end {
				evalDays[e] = true
			}
		}
	}
	seen := map[string]bool{}
	prev := today
	for _, day := range slices.Sorted(maps.Keys(evalDays)) {
		eff := effective(day)
		for _, k := range slices.Sorted(maps.Keys(eff)) {
			if _, before := prev[k]; !before && !seen["+"+k] {
				seen["+"+k] = true
				s := eff[k]
				d.plan.Upcoming = append(d.plan.Upcoming, Upcoming{Date: day, Action: UpcomingCreate, Skill: s.Name, Rule: s.RuleID, Members: len(s.Members)})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(prev)) {
			if _, then := eff[k]; !then && !seen["-"+k] {
				seen["-"+k] = true
				s := prev[k]
				d.plan.Upcoming = append(d.plan.Upcoming, Upcoming{Date: day, Action: UpcomingPendingDelete, Skill: s.Name, Rule: s.RuleID, Members: len(s.Members)})
			}
		}
		prev = eff
	}
}

// maxDropWarnings bounds the warnings of headcountDrops.
const maxDropWarnings = 3

// headcountDrops warns of the days up to end on which the records in
// force fall, from one day to the next, by more than
// sync.max_active_drop_percent: the first apply run of such a day (a
// wave of terminations at a month's end) is refused by the headcount
// guard, which counts only records in force, unless a person reruns it
// with a higher limit.
func (d *datedRun) headcountDrops(end hrsource.Date) {
	limit := d.cfg.Sync.MaxActiveDropPercent
	if limit < 0 {
		return
	}
	count := 0
	delta := map[hrsource.Date]int{}
	for i := range d.snap.Records {
		r := &d.snap.Records[i]
		if !r.Active || r.DateProblem != "" {
			continue
		}
		if r.InForce(d.day) {
			count++
		}
		if r.Start > d.day && r.Start <= end {
			delta[r.Start]++
		}
		if r.End != 0 && r.End >= d.day && r.End < end && r.End >= r.Start {
			delta[r.End.AddDays(1)]--
		}
	}
	warned := 0
	for _, day := range slices.Sorted(maps.Keys(delta)) {
		prev := count
		count += delta[day]
		if prev == 0 || delta[day] >= 0 {
			continue
		}
		if drop := float64(prev-count) * 100 / float64(prev); drop > limit {
			if warned == maxDropWarnings {
				d.warnings = append(d.warnings, "upcoming: more days on which the headcount guard will refuse the first run follow")
				return
			}
			warned++
			d.warnings = append(d.warnings, fmt.Sprintf("upcoming: on %s the records in force fall from %d to %d (%.1f%%), more than sync.max_active_drop_percent (%v%%): the headcount guard will refuse the apply runs from that day on; if the drop is expected, run one once with a higher limit", day, prev, count, drop, limit))
		}
	}
}

// datedGroups are the skills the rules make of every record in force on
// some day of a window, whatever their size, with their members: on each
// day, a skill is desired when enough of its members are in force then.
// The rules run once over the window, not once per day.
type datedGroups struct {
	skills []DesiredSkill
	// members are the records of each skill's Members, in their order.
	members [][]*hrsource.Record
	min     map[string]int // rule id → min_members
	byID    map[string]*hrsource.Record
}

// window evaluates the rules, min_members aside, over the records in force
// on some day from the run's day to horizon.
func (d *datedRun) window(horizon hrsource.Date) (*datedGroups, error) {
	rules, min, err := d.rulesOfAnySize()
	if err != nil {
		return nil, err
	}
	g := &datedGroups{min: min, byID: map[string]*hrsource.Record{}}
	view := *d.snap
	view.Records = slices.Clone(d.snap.Records)
	for i := range view.Records {
		r := &view.Records[i]
		r.Active = r.Active && r.DateProblem == "" && (r.Start == 0 || r.Start <= horizon) && (r.End == 0 || r.End >= d.day)
		if r.Active {
			g.byID[r.ID] = &d.snap.Records[i]
		}
	}
	ds, err := rules.Desired(&view)
	if err != nil {
		return nil, err
	}
	g.skills = ds.Skills
	g.members = make([][]*hrsource.Record, len(ds.Skills))
	for i, s := range ds.Skills {
		g.members[i] = make([]*hrsource.Record, len(s.Members))
		for j, id := range s.Members {
			g.members[i][j] = g.byID[id]
		}
	}
	return g, nil
}

// rulesOfAnySize compiles the rules with min_members 0 and no static
// skills (always desired: never upcoming, and held by no record), and
// returns each rule's min_members (at least 1) by rule id.
func (d *datedRun) rulesOfAnySize() (*Rules, map[string]int, error) {
	skills := d.cfg.Skills
	skills.Rules = slices.Clone(skills.Rules)
	min := map[string]int{}
	for i := range skills.Rules {
		min[skills.Rules[i].ID] = max(skills.Rules[i].MinMembers, 1)
		skills.Rules[i].MinMembers = 0
	}
	skills.Static = nil
	rules, err := CompileRules(skills)
	if err != nil {
		return nil, nil, err
	}
	return rules, min, nil
}

// on returns the skills desired on day, by name key, each with the
// members in force then.
func (g *datedGroups) on(day hrsource.Date) map[string]DesiredSkill {
	out := map[string]DesiredSkill{}
	for i, s := range g.skills {
		n := 0
		for _, r := range g.members[i] {
			if r.InForce(day) {
				n++
			}
		}
		if n < g.min[s.RuleID] {
			continue
		}
		if n < len(s.Members) {
			in := make([]string, 0, n)
			for j, r := range g.members[i] {
				if r.InForce(day) {
					in = append(in, s.Members[j])
				}
			}
			s.Members = in
		}
		out[nameKey(s.Name)] = s
	}
	return out
}

// lastDay returns the last of the change days on or before day (the
// run's day when none is).
func (d *datedRun) lastDay(days []hrsource.Date, day hrsource.Date) hrsource.Date {
	last := d.day
	for _, c := range days {
		if c <= day {
			last = c
		}
	}
	return last
}

// precreate adds to desired the skills of want (the desired state with
// precreation) that the records in force today do not yet make: their
// members are those of the window in force today, so that assignments
// follow who is in force.
func (d *datedRun) precreate(desired *DesiredState, want map[string]DesiredSkill, groups *datedGroups) {
	have := skillsByKey(desired.Skills)
	all := skillsByKey(groups.skills)
	added := false
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := have[k]; ok {
			continue
		}
		s := all[k]
		s.Members = slices.DeleteFunc(slices.Clone(s.Members), func(id string) bool { return !groups.byID[id].InForce(d.day) })
		desired.Skills = append(desired.Skills, s)
		d.plan.Precreated = append(d.plan.Precreated, s.Name)
		added = true
	}
	if added {
		slices.SortFunc(desired.Skills, func(a, b DesiredSkill) int { return strings.Compare(a.Name, b.Name) })
	}
}

// addDateProblems reports every active record whose dates could not be
// read. Whether it is in force is unknown, but its attributes are known:
// the rules are evaluated for it as if it were in force, and it holds
// only the deletes, and its user's removals, of the skills it would
// belong to (issue 21: hold only what the bad records touch). A rule
// whose evaluation fails for it holds all its skills, as for any record
// a rule skips.
func (d *datedRun) addDateProblems(desired *DesiredState) {
	var bad []*hrsource.Record
	for i := range d.snap.Records {
		if r := &d.snap.Records[i]; r.Active && r.DateProblem != "" {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 || len(d.rules.rules) == 0 {
		return
	}
	// The problems and Skipped hold copies of the ids and origins: the
	// run keeps them to the end (and its plan), where the records' would
	// keep each one's line of the feed, and every record's origins, alive.
	var text textArena
	ids := make(map[*hrsource.Record][2]string, len(bad))
	for _, r := range bad {
		ids[r] = [2]string{text.str(r.ID), text.str(r.Origin)}
	}
	slices.SortFunc(bad, func(a, b *hrsource.Record) int { return compareIDs(a.ID, b.ID) })
	if desired.Skipped == nil {
		desired.Skipped = map[string][]string{}
	}
	touched, failed, err := d.badDateSkills()
	if err != nil {
		d.warnings = append(d.warnings, fmt.Sprintf("records whose dates could not be read hold the deletes of every rule's skills: the rules fail on them as if they were in force: %s", oneLine(err.Error())))
	}
	reported := map[string]bool{}
	for _, r := range d.rules.rules {
		id := r.cfg.ID
		var listed int
		var more []*hrsource.Record
		var moreHolds *dateHolds // nil once an elided record holds the whole rule
		for _, rec := range bad {
			p := RecordProblem{RecordID: ids[rec][0], Origin: ids[rec][1], RuleID: id, Msg: rec.DateProblem}
			switch skills := touched[id][rec.ID]; {
			case err != nil || failed[id][rec.ID]:
				// The rule could not evaluate it: it holds the rule.
				desired.Skipped[id] = append(desired.Skipped[id], p.RecordID)
			case len(skills) > 0:
				p.holds = &dateHolds{skills: skills}
				p.Msg += "; until then the deletes of " + heldNames(skills) + ", and their removal from its user, wait"
			default:
				continue // it would belong to no skill of this rule
			}
			reported[rec.ID] = true
			if listed == maxProblemsPerRule {
				if len(more) == 0 {
					moreHolds = &dateHolds{}
				}
				more = append(more, rec)
				if p.holds == nil {
					moreHolds = nil
				} else if moreHolds != nil {
					moreHolds.skills = append(moreHolds.skills, p.holds.skills...)
				}
				continue
			}
			listed++
			desired.Problems = append(desired.Problems, p)
		}
		if len(more) > 0 {
			desired.Problems = append(desired.Problems, RecordProblem{RuleID: id, Msg: fmt.Sprintf("%d more records whose dates could not be read", len(more)), holds: moreHolds})
		}
		if ids := desired.Skipped[id]; ids != nil {
			slices.SortFunc(ids, compareIDs)
			desired.Skipped[id] = slices.Compact(ids)
		}
	}
	// A record no rule would give a skill holds nothing, and is reported
	// all the same.
	first := d.rules.rules[0].cfg.ID
	n := 0
	for _, rec := range bad {
		if reported[rec.ID] {
			continue
		}
		if n == maxProblemsPerRule {
			desired.Problems = append(desired.Problems, RecordProblem{RuleID: first, Msg: "more records whose dates could not be read and that no rule would give a skill", holds: &dateHolds{}})
			break
		}
		n++
		desired.Problems = append(desired.Problems, RecordProblem{RecordID: ids[rec][0], Origin: ids[rec][1], RuleID: first,
			Msg: rec.DateProblem + "; no rule would give it a skill, so it holds nothing", holds: &dateHolds{}})
	}
	if len(desired.Skipped) == 0 {
		desired.Skipped = nil
	}
}

// dateHolds are the skills a problem of a record whose dates could not be
// read holds (RecordProblem.holds): those the record would belong to if
// it were in force.
type dateHolds struct {
	skills []heldSkill
}

// heldSkill is a skill a record whose dates could not be read would
// belong to.
type heldSkill struct {
	record string   // the record's id
	name   string   // the skill's name
	keys   []string // its registry keys (DesiredSkill.Key and Keys)
}

// heldNames lists the names of skills for a message.
func heldNames(skills []heldSkill) string {
	names := make([]string, len(skills))
	for i, s := range skills {
		names[i] = fmt.Sprintf("%q", s.name)
	}
	return strings.Join(names, ", ")
}

// badDateSkills evaluates the rules, min_members aside, over the records
// in force on the run's day and those whose dates could not be read, as
// if they were in force. It returns, per rule id and record id, the
// skills each record whose dates could not be read would belong to, and
// those the rule could not evaluate.
func (d *datedRun) badDateSkills() (touched map[string]map[string][]heldSkill, failed map[string]map[string]bool, err error) {
	rules, _, err := d.rulesOfAnySize()
	if err != nil {
		return nil, nil, err
	}
	view := *d.snap
	view.Records = slices.Clone(d.snap.Records)
	for i := range view.Records {
		r := &view.Records[i]
		r.Active = r.Active && (r.DateProblem != "" || r.InForce(d.day))
		r.DateProblem = ""
	}
	ds, err := rules.Desired(&view)
	if err != nil {
		return nil, nil, err
	}
	bad := map[string]bool{}
	for i := range d.snap.Records {
		if r := &d.snap.Records[i]; r.Active && r.DateProblem != "" {
			bad[r.ID] = true
		}
	}
	touched = map[string]map[string][]heldSkill{}
	for _, s := range ds.Skills {
		if s.Static {
			continue
		}
		keys := append([]string{s.Key}, s.Keys...)
		for _, id := range s.Members {
			if !bad[id] {
				continue
			}
			if touched[s.RuleID] == nil {
				touched[s.RuleID] = map[string][]heldSkill{}
			}
			touched[s.RuleID][id] = append(touched[s.RuleID][id], heldSkill{record: id, name: s.Name, keys: keys})
		}
	}
	failed = map[string]map[string]bool{}
	for rule, ids := range ds.Skipped {
		for _, id := range ids {
			if bad[id] {
				if failed[rule] == nil {
					failed[rule] = map[string]bool{}
				}
				failed[rule][id] = true
			}
		}
	}
	return touched, failed, nil
}

// problemCounter returns how many of problems hold the delete of an owned
// skill of rule with registry key key and name: the problems of its rule,
// except those of records whose dates could not be read, which hold only
// the skills they would belong to.
func problemCounter(problems []RecordProblem) func(rule, key, name string) int {
	byRule := map[string]int{}
	// held are, per rule, the skills each problem of a record whose
	// dates could not be read holds: registry keys and "\x00" + name key.
	held := map[string][]map[string]bool{}
	for _, p := range problems {
		if p.holds == nil {
			byRule[p.RuleID]++
			continue
		}
		set := map[string]bool{}
		for _, h := range p.holds.skills {
			set["\x00"+nameKey(h.name)] = true
			for _, k := range h.keys {
				set[k] = true
			}
		}
		held[p.RuleID] = append(held[p.RuleID], set)
	}
	return func(rule, key, name string) int {
		if rule == "" {
			return 0
		}
		n := byRule[rule]
		nk := "\x00" + nameKey(name)
		for _, set := range held[rule] {
			if key != "" && set[key] || set[nk] {
				n++
			}
		}
		return n
	}
}

// problemSkillHolds returns, by record id, the name keys of the skills
// whose removal from the record's user the problems of records whose
// dates could not be read hold.
func problemSkillHolds(problems []RecordProblem) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range problems {
		if p.holds == nil {
			continue
		}
		for _, h := range p.holds.skills {
			if out[h.record] == nil {
				out[h.record] = map[string]bool{}
			}
			out[h.record][nameKey(h.name)] = true
		}
	}
	return out
}

// skillsByKey indexes skills by name key.
func skillsByKey(skills []DesiredSkill) map[string]DesiredSkill {
	out := make(map[string]DesiredSkill, len(skills))
	for _, s := range skills {
		out[nameKey(s.Name)] = s
	}
	return out
}

// release lets go of the records: once the rules have run (complete),
// the dating of the run needs only its plan and warnings.
func (d *datedRun) release() {
	if d != nil {
		d.snap = nil
	}
}

// finishDated puts the dating of the run into its plan.
func (d *datedRun) finishDated(p *Plan) {
	if d == nil || p == nil {
		return
	}
	if d.plan != nil {
		p.Dated = d.plan
	}
	for _, w := range d.warnings {
		if !slices.Contains(p.Warnings, w) {
			p.Warnings = append(p.Warnings, w)
		}
	}
}

// renderUpcoming writes the upcoming section of a text plan.
func renderUpcoming(b *strings.Builder, d *Dated, paint func(code, s string) string, section func(string)) {
	section(fmt.Sprintf("Upcoming (as of %s, next %d days):", d.AsOf, d.LookaheadDays))
	for _, name := range d.Precreated {
		fmt.Fprintf(b, "  %s  %s\n", paint(ansiGreen, "+ "+name), paint(ansiDim, "created ahead of its start (skills.precreate_days)"))
	}
	if len(d.Upcoming) == 0 {
		fmt.Fprintf(b, "  %s\n", paint(ansiDim, "no changes from dated records"))
	}
	for _, u := range d.Upcoming {
		switch u.Action {
		case UpcomingCreate:
			fmt.Fprintf(b, "  %s  %s  %s\n", u.Date, paint(ansiGreen, "+ "+u.Skill), paint(ansiDim, fmt.Sprintf("to be created (rule %s, %d %s)", u.Rule, u.Members, plural(u.Members, "member", "members"))))
		default:
			fmt.Fprintf(b, "  %s  %s  %s\n", u.Date, paint(ansiYellow, "- "+u.Skill), paint(ansiDim, fmt.Sprintf("to become pending deletion (rule %s, had %d %s)", u.Rule, u.Members, plural(u.Members, "member", "members"))))
		}
	}
}
