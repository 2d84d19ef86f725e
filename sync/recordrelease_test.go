package sync

import (
	"context"
	"reflect"
	"runtime"
	"testing"
	"weak"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// weakSource reads through src and keeps, of each read, only weak
// pointers to what watch picks of it, by name: whether each is still
// alive.
type weakSource struct {
	src   RecordSource
	watch func(*hrsource.Snapshot) map[string]func() bool
	alive map[string]func() bool
}

func (s *weakSource) Read(ctx context.Context) (*hrsource.Snapshot, error) {
	snap, err := s.src.Read(ctx)
	if err == nil {
		s.alive = s.watch(snap)
	}
	return snap, err
}

// weakly is a check that p's target is still alive.
func weakly[T any](p *T) func() bool {
	w := weak.Make(p)
	return func() bool { return w.Value() != nil }
}

// gcUsers collects the garbage before each users read, and counts, by
// name, the reads at which what src watches was still held.
type gcUsers struct {
	UsersAPI
	src   *weakSource
	reads int
	held  map[string]int
}

func (u *gcUsers) ListUsersAt(ctx context.Context) ([]liveperson.User, string, error) {
	u.reads++
	runtime.GC()
	runtime.GC()
	for name, alive := range u.src.alive {
		if alive() {
			if u.held == nil {
				u.held = map[string]int{}
			}
			u.held[name]++
		}
	}
	return u.UsersAPI.ListUsersAt(ctx)
}

// TestRunReleasesRecordsBeforeUsersRead: once the rules have run, a run
// holds what assignments read of the HR records, not the records (their
// values, their lines, their origins): at 1,000,000 records they are
// garbage before the users, as large, are read. The plan is the one made
// from the records.
func TestRunReleasesRecordsBeforeUsersRead(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	e := setup(t, baseHR, cfg)
	seedUsers(e, "ann@example.com", "bob@example.com", "dee@example.com")
	r := e.runner(cfg)
	src := &weakSource{src: r.deps.Source, watch: func(snap *hrsource.Snapshot) map[string]func() bool {
		if len(snap.Records) == 0 {
			return nil
		}
		return map[string]func() bool{"records": weakly(&snap.Records[0])}
	}}
	users := &gcUsers{UsersAPI: r.deps.Users, src: src}
	r.deps.Source, r.deps.Users = src, users

	for _, mode := range []store.Mode{store.ModePlan, store.ModeApply, store.ModeApply} {
		before := users.reads
		res := e.run(r, mode)
		if users.reads == before {
			t.Fatalf("%s run: users not read", mode)
		}
		if users.held["records"] > 0 {
			t.Fatalf("%s run: the HR records were still held when the users were read", mode)
		}
		if res.Plan == nil || res.Plan.Assignments == nil {
			t.Fatalf("%s run: no assignments planned", mode)
		}
	}
	if res := e.run(r, store.ModeApply); res.Run.Outcome != store.OutcomeNoChanges {
		t.Fatalf("last run: outcome %s, want no_changes after the apply runs", res.Run.Outcome)
	}
}

// TestPeopleStandForRecords: assignments planned from what a run keeps of
// the records (peopleOf) are those planned from the records themselves.
func TestPeopleStandForRecords(t *testing.T) {
	t.Parallel()
	rec := func(id, email, login, name, emp string, active bool) hrsource.Record {
		return hrsource.Record{ID: id, Email: email, LoginName: login, Name: name, EmployeeID: emp, Active: active, Origin: "hr.csv:" + id}
	}
	user := func(id int64, email, login string, skills ...int64) liveperson.User {
		u := liveperson.User{ID: id, Email: email, LoginName: login, SkillIDs: skills}
		u.SetField("fullName", []byte(`""`))
		u.SetField("employeeId", []byte(`""`))
		return u
	}
	current := []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "Billing", 120), lpSkill(3, "Old", 120)}
	registry := []store.OwnedSkill{owned(1, "Sales", "d|Sales"), owned(2, "Billing", "d|Billing"), owned(3, "Old", "d|Old")}
	desiredSkills := []DesiredSkill{
		desired("Billing", "d|Billing", 120, "2", "8"),
		desired("New", "d|New", 120, "1", "2", "10"),
		desired("Sales", "d|Sales", 120, "1", "9"),
	}
	records := []hrsource.Record{
		rec("1", " Ann@Example.com ", "ann", "Ann", "E1", true), rec("2", "bob@example.com", "Bob ", "Bob", "", true),
		rec("3", "cid@example.com", "cid", "", "E3", false), rec("4", "dup@example.com", "dup1", "Dup", "E4", true),
		rec("5", "dup@example.com", "dup2", "Dup", "E5", true), rec("6", "nobody@example.com", "", "No", "E6", true),
		rec("7", "", "seven", "Seven", "E7", true), rec("8", "old@example.com", "old", "Old", "E8", false),
		rec("10", "old@example.com", "old", "Old", "E10", false), rec("9", "gone@example.com", "GONE", " ", "E9", true),
	}
	users := []liveperson.User{
		user(101, "ann@example.com", "ann", 2), user(102, "BOB@example.com", "bob", 1, 2, 3), user(103, "cid@example.com", "cid", 2),
		user(104, "dup@example.com", "dup1", 1), user(105, "stranger@example.com", "stranger", 3),
		user(106, "old@example.com", "old", 1), user(107, "gone@example.com", "gone"),
	}
	in := PlanInput{Desired: desiredSkills, Current: current, Registry: registry, DeleteAfterRuns: 1, RunID: 5}
	for _, match := range []string{"", "email", "login_name"} {
		for _, keep := range []bool{false, true} {
			p := BuildPlan(in)
			fromRecords := PlanAssignments(p, desiredSkills, registry, current, AssignInput{Records: records, Users: users, Match: match, KeepUnmatched: keep, MaxChangesPercent: -1})
			p2 := BuildPlan(in)
			fromPeople := PlanAssignments(p2, desiredSkills, registry, current, AssignInput{people: peopleOf(records, assignMatch(Config{Assignments: AssignmentsConfig{Match: match}})),
				Users: users, Match: match, KeepUnmatched: keep, MaxChangesPercent: -1})
			if !reflect.DeepEqual(fromRecords, fromPeople) {
				t.Errorf("match %q keep %v: from the records\n%+v\nfrom the people\n%+v", match, keep, fromRecords, fromPeople)
			}
			if len(fromRecords.Users) == 0 || fromRecords.Matched == 0 {
				t.Errorf("match %q keep %v: nothing planned: %+v", match, keep, fromRecords)
			}
		}
	}
}
