package sync

import (
	"fmt"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// bigWorld is 100,000 records spread over 50 departments × 40 roles (2,000
// skills), an account holding those 2,000 skills (owned, a tenth of them
// with a changed setting) plus 200 unowned ones.
func bigWorld(tb testing.TB) (*Rules, *hrsource.Snapshot, []liveperson.Skill, []store.OwnedSkill) {
	tb.Helper()
	cols := []string{"id", "Dept", "Role", "Location", "Email"}
	schema := hrsource.NewSchema(cols, nil)
	snap := &hrsource.Snapshot{Schema: schema, Records: make([]hrsource.Record, 100_000)}
	for i := range snap.Records {
		id := fmt.Sprint(i + 1)
		snap.Records[i] = hrsource.Record{ID: id, Active: (i/2000)%10 != 9, Schema: schema,
			Values: []string{id, fmt.Sprintf("Dept %02d", i%50), fmt.Sprintf("Role %02d", (i/50)%40), "Site", id + "@example.com"}}
	}
	rules, err := CompileRules(SkillsConfig{
		Defaults: Settings{MaxWaitTime: ptr(120), CanTransfer: ptr(true)},
		Rules: []Rule{{ID: "dept-role", Name: "{{ .Dept }} / {{ .Role }}", Description: "{{ .Dept }} {{ lower .Role }}",
			When: `Location == "Site"`, MinMembers: 5}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	var current []liveperson.Skill
	var registry []store.OwnedSkill
	id := int64(1)
	for d := range 50 {
		for r := range 40 {
			name := fmt.Sprintf("Dept %02d / Role %02d", d, r)
			mwt := 120
			if id%10 == 0 {
				mwt = 60
			}
			current = append(current, liveperson.Skill{ID: id, Name: name, Description: fmt.Sprintf("Dept %02d role %02d", d, r),
				MaxWaitTime: ptr(mwt), CanTransfer: ptr(true)})
			registry = append(registry, store.OwnedSkill{SkillID: id, Name: name, RuleID: "dept-role", RuleKey: fmt.Sprintf("dept-role|Dept %02d|Role %02d", d, r)})
			id++
		}
	}
	for i := range 200 {
		current = append(current, liveperson.Skill{ID: 10_000 + int64(i), Name: fmt.Sprintf("Manual %d", i)})
	}
	return rules, snap, current, registry
}

func BenchmarkRulesDesired100k(b *testing.B) {
	rules, snap, _, _ := bigWorld(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ds, err := rules.Desired(snap)
		if err != nil || len(ds.Skills) != 2000 {
			b.Fatalf("%v, %d skills", err, len(ds.Skills))
		}
	}
}

func BenchmarkPlan2000(b *testing.B) {
	rules, snap, current, registry := bigWorld(b)
	ds, err := rules.Desired(snap)
	if err != nil {
		b.Fatal(err)
	}
	in := PlanInput{Desired: ds.Skills, Current: current, Registry: registry, Policy: PolicySync, DeleteAfterRuns: 2, RunID: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := BuildPlan(in)
		if s := p.Summary(); s.Update != 200 || s.Unchanged != 1800 {
			b.Fatalf("summary %+v", s)
		}
	}
}

// BenchmarkAssignments20kUsers matches 20,000 users against 100,000 HR
// records and plans their skills (2,000 owned skills; every user holds a
// stale skill and lacks the right one).
func BenchmarkAssignments20kUsers(b *testing.B) {
	rules, snap, current, registry := bigWorld(b)
	for i := range snap.Records {
		snap.Records[i].Email = snap.Records[i].Values[4]
	}
	ds, err := rules.Desired(snap)
	if err != nil {
		b.Fatal(err)
	}
	p := BuildPlan(PlanInput{Desired: ds.Skills, Current: current, Registry: registry, Policy: PolicySync, DeleteAfterRuns: 2, RunID: 1})
	users := make([]liveperson.User, 20_000)
	for i := range users {
		users[i] = liveperson.User{ID: int64(i + 1), Email: fmt.Sprintf("%d@EXAMPLE.com", i*5+1), SkillIDs: []int64{int64(i%2000 + 1), 10_000}}
	}
	in := AssignInput{Records: snap.Records, Users: users, Match: "email", MaxChangesPercent: 100}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a := PlanAssignments(p, ds.Skills, registry, current, in)
		if a.Matched != 20_000 || len(a.Users) == 0 {
			b.Fatalf("matched %d, %d changes", a.Matched, len(a.Users))
		}
	}
}

// BenchmarkRulesKeyed100k is BenchmarkRulesDesired100k with a rule
// without when (the usual department/role rule): its registry key is made
// of the record's values, and the environment is built only for a key
// met for the first time.
func BenchmarkRulesKeyed100k(b *testing.B) {
	_, snap, _, _ := bigWorld(b)
	rules, err := CompileRules(SkillsConfig{
		Rules: []Rule{{ID: "dept-role", Name: "{{ .Dept }} / {{ .Role }}", Description: "{{ .Dept }} {{ lower .Role }}", MinMembers: 5}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ds, err := rules.Desired(snap)
		if err != nil || len(ds.Skills) != 2000 {
			b.Fatalf("%v, %d skills", err, len(ds.Skills))
		}
	}
}

// BenchmarkFingerprint100k is the HR fingerprint a run takes of 100,000
// records of 5 columns.
func BenchmarkFingerprint100k(b *testing.B) {
	_, snap, _, _ := bigWorld(b)
	b.ReportAllocs()
	for b.Loop() {
		if Fingerprint(snap) == "" {
			b.Fatal("no fingerprint")
		}
	}
}
