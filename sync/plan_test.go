package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

func lpSkill(id int64, name string, mwt int) liveperson.Skill {
	return liveperson.Skill{ID: id, Name: name, MaxWaitTime: ptr(mwt),
		Extra: map[string]json.RawMessage{"pid": json.RawMessage(`"x"`)}}
}

func owned(id int64, name, key string) store.OwnedSkill {
	rule, _, _ := strings.Cut(key, "|")
	return store.OwnedSkill{SkillID: id, Name: name, RuleID: rule, RuleKey: key}
}

func desired(name, key string, mwt int, members ...string) DesiredSkill {
	rule, _, _ := strings.Cut(key, "|")
	return DesiredSkill{Name: name, Key: key, RuleID: rule, Settings: Settings{MaxWaitTime: ptr(mwt)}, Members: members}
}

// lostCreate is a journal row of a create whose answer never came; it
// sent the name and an empty description (lpSkill's).
func lostCreate(id, run int64, name, key string, state store.OpState) store.Operation {
	rule, _, _ := strings.Cut(key, "|")
	return store.Operation{ID: id, RunID: run, Action: "create", SkillName: name, RuleID: rule, RuleKey: key, State: state,
		Sent: sentState(&liveperson.Skill{Name: name}, nil)}
}

// lostCreateOf is the journal row of a lost create of d, with what it
// sent, and the skill that create made.
func lostCreateOf(id, run int64, d DesiredSkill) (store.Operation, liveperson.Skill) {
	made := *desiredSkill(liveperson.Skill{}, &d, newTransferResolver(nil, nil))
	op := lostCreate(id, run, d.Name, d.Key, store.OpSent)
	op.Sent = sentState(&made, managedFields(&d))
	made.ID = id
	return op, made
}

// checkResolutions compares the plan's resolutions of unanswered creates,
// each as "op-id resolution skill-id".
func checkResolutions(t *testing.T, p *Plan, want ...string) {
	t.Helper()
	var got []string
	for _, r := range p.Unconfirmed {
		got = append(got, fmt.Sprintf("%d %s %d", r.OpID, r.Resolution, r.SkillID))
		if r.Note == "" {
			t.Errorf("resolution of op %d has no note", r.OpID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("resolutions %q, want %q", got, want)
	}
}

func TestBuildPlanDecisionTable(t *testing.T) {
	t.Parallel()
	deleted := lpSkill(7, "Gone", 120)
	deleted.Deleted = true
	tests := []struct {
		name   string
		in     PlanInput
		want   []string // "action skill" per change, in order
		check  func(t *testing.T, p *Plan)
		counts Summary
	}{
		{
			name:   "create",
			in:     PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120, "1", "2", "3", "4", "5", "6")}},
			want:   []string{"create Sales"},
			counts: Summary{Create: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.Rule != "dept" || c.Members != 6 || !slices.Equal(c.MemberIDs, []string{"1", "2", "3", "4", "5"}) {
					t.Errorf("provenance %+v", c)
				}
				if !slices.Equal(c.Fields, []string{"name", "max_wait_time"}) || *c.After.MaxWaitTime != 120 {
					t.Errorf("fields %v after %+v", c.Fields, c.After)
				}
			},
		},
		{
			name: "unchanged",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			counts: Summary{Unchanged: 1},
		},
		{
			name: "update sets only managed fields and keeps the rest",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 60)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if !slices.Equal(c.Fields, []string{"max_wait_time"}) || c.Drift || c.RenamedFrom != "" {
					t.Errorf("change %+v", c)
				}
				if *c.Before.MaxWaitTime != 60 || *c.After.MaxWaitTime != 120 || string(c.After.Extra["pid"]) != `"x"` || c.After.ID != 1 {
					t.Errorf("before %+v after %+v", c.Before, c.After)
				}
			},
		},
		{
			name: "rename in place",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales team", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"update Sales team"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.SkillID != 1 || c.RenamedFrom != "Sales" || !slices.Equal(c.Fields, []string{"name"}) || c.Drift {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "drift: renamed by hand",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales (old)", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Drift || c.RenamedFrom != "" {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "drift: a field edited by hand (written state known)",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 600)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")},
				Written: map[int64]SkillState{1: {"name": json.RawMessage(`"Sales"`), "max_wait_time": json.RawMessage(`120`)}}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Drift || c.Reason != "edited outside skillsync: max_wait_time" {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "a changed setting is an update, not drift",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 60)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")},
				Written: map[int64]SkillState{1: {"name": json.RawMessage(`"Sales"`), "max_wait_time": json.RawMessage(`60`)}}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; c.Drift {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "unchanged skill with unknown written state gets it recorded",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")},
				Written: map[int64]SkillState{}},
			counts: Summary{Unchanged: 1},
			check: func(t *testing.T, p *Plan) {
				if st := p.StateFixes[1]; string(st["max_wait_time"]) != "120" || string(st["name"]) != `"Sales"` || p.HasChanges() {
					t.Errorf("state fixes %v", p.StateFixes)
				}
			},
		},
		{
			name: "rename blocked by a skill holding the new name",
			in: PlanInput{Desired: []DesiredSkill{desired("Billing", "dept|Sales", 120)},
				Current:  []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "billing", 120)},
				Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"unmanaged_conflict Billing"},
			counts: Summary{UnmanagedConflict: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; c.SkillID != 2 || !strings.Contains(c.Reason, `cannot rename skill 1 "Sales"`) {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "a desired name held by another owned skill is a conflict, not a takeover",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "team|Sales", 120), desired("Sales 2", "dept|Sales", 120)},
				Current:  []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "Sales 2", 120)},
				Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"unmanaged_conflict Sales", "unmanaged_conflict Sales 2"},
			counts: Summary{UnmanagedConflict: 2},
		},
		{
			name: "a name an owned skill gives up in the same run is created after the rename, not taken over",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "team|Sales", 120), desired("Sales 2", "dept|Sales", 120)},
				Current:  []liveperson.Skill{lpSkill(1, "Sales", 120)},
				Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			want:   []string{"create Sales", "update Sales 2"},
			counts: Summary{Create: 1, Update: 1},
			check: func(t *testing.T, p *Plan) {
				if !p.Changes[0].afterRenames {
					t.Errorf("the create is not sent after the rename: %+v", p.Changes[0])
				}
			},
		},
		{
			name: "pending delete within grace",
			in: PlanInput{Current: []liveperson.Skill{lpSkill(1, "Old", 120)}, Registry: []store.OwnedSkill{owned(1, "Old", "dept|Old")},
				DeleteAfterRuns: 2, RunID: 9},
			want:   []string{"pending_delete Old"},
			counts: Summary{PendingDelete: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.FirstMissingRun != 9 || c.MissingRuns != 1 || !strings.Contains(c.Reason, "since run 9") {
					t.Errorf("change %+v", c)
				}
				if got := p.NextPending(); len(got) != 1 || got[0].ConsecutiveMissingRuns != 1 {
					t.Errorf("next pending %+v", got)
				}
			},
		},
		{
			name: "delete after grace",
			in: PlanInput{Current: []liveperson.Skill{lpSkill(1, "Old", 120)}, Registry: []store.OwnedSkill{owned(1, "Old", "dept|Old")},
				Pending: []store.PendingDelete{{SkillID: 1, FirstMissingRun: 8, ConsecutiveMissingRuns: 1}}, DeleteAfterRuns: 2, RunID: 9},
			want:   []string{"delete Old"},
			counts: Summary{Delete: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; c.FirstMissingRun != 8 || c.MissingRuns != 2 || !strings.Contains(c.Reason, "since run 8") {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "unowned skill with the desired name (any case) is a conflict",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "SALES", 30)}},
			want:   []string{"unmanaged_conflict Sales"},
			counts: Summary{UnmanagedConflict: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; c.SkillID != 5 || !strings.Contains(c.Reason, "adopt_existing") {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "adopt with adopt_existing",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "Sales", 30)}, AdoptExisting: true},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Adopt || c.SkillID != 5 || !slices.Equal(c.Fields, []string{"max_wait_time"}) {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "owned skill deleted by hand is recreated",
			in: PlanInput{Desired: []DesiredSkill{desired("Gone 2", "dept|Gone", 120)},
				Current: []liveperson.Skill{deleted}, Registry: []store.OwnedSkill{owned(7, "Gone", "dept|Gone")}},
			want:   []string{"create Gone 2"},
			counts: Summary{Create: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Recreate || c.ReplacesID != 7 || !strings.Contains(c.Reason, "deleted in LivePerson outside skillsync") {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "owned skill deleted by hand under its name cannot be recreated",
			in: PlanInput{Desired: []DesiredSkill{desired("Gone", "dept|Gone", 120)},
				Current: []liveperson.Skill{deleted}, Registry: []store.OwnedSkill{owned(7, "Gone", "dept|Gone")}},
			want:   []string{"unmanaged_conflict Gone"},
			counts: Summary{UnmanagedConflict: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !strings.Contains(c.Reason, "keeps the names of deleted skills") {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "a deleted unowned skill holding the name blocks a create",
			in:   PlanInput{Desired: []DesiredSkill{desired("gone", "dept|Gone", 120)}, Current: []liveperson.Skill{deleted}},
			want: []string{"unmanaged_conflict gone"}, counts: Summary{UnmanagedConflict: 1},
		},
		{
			name: "vanished owned skill no longer desired is forgotten (bookkeeping, not a change)",
			in: PlanInput{Current: []liveperson.Skill{deleted}, Registry: []store.OwnedSkill{owned(7, "Gone", "dept|Gone"), owned(8, "Never", "dept|Never")},
				Gone: map[int64]bool{8: true}},
			check: func(t *testing.T, p *Plan) {
				if !slices.Equal(p.Forget, []int64{7, 8}) || p.HasChanges() {
					t.Errorf("forget %v has changes %v", p.Forget, p.HasChanges())
				}
			},
		},
		{
			name: "owned skill merely missing from the list is kept and reported",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)}, Current: []liveperson.Skill{deleted},
				Registry: []store.OwnedSkill{owned(7, "Gone", "dept|Gone"), owned(8, "Never", "dept|Never"), owned(9, "Sales", "dept|Sales")}},
			check: func(t *testing.T, p *Plan) {
				w := strings.Join(p.Warnings, "\n")
				if !slices.Equal(p.Forget, []int64{7}) || len(p.Changes) != 0 || len(p.Warnings) != 2 ||
					!strings.Contains(w, `skill 8 "Never"`) || !strings.Contains(w, `skill 9 "Sales"`) || !strings.Contains(w, "not confirmed deleted") {
					t.Errorf("forget %v changes %+v warnings %q", p.Forget, p.Changes, p.Warnings)
				}
			},
		},
		{
			name: "a rule with record problems holds its deletes without advancing their grace",
			in: PlanInput{Current: []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(2, "Billing", 120), lpSkill(3, "Old", 120)},
				Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales"), owned(2, "Billing", "dept|Billing"), owned(3, "Old", "lang|Old")},
				Pending:  []store.PendingDelete{{SkillID: 1, SkillName: "Sales", FirstMissingRun: 4, ConsecutiveMissingRuns: 1}},
				Problems: []RecordProblem{{RecordID: "7", RuleID: "dept", Msg: "missing attribute"}}, DeleteAfterRuns: 1, RunID: 5},
			want:   []string{"pending_delete Billing", "delete Old", "pending_delete Sales"},
			counts: Summary{PendingDelete: 2, Delete: 1},
			check: func(t *testing.T, p *Plan) {
				for _, c := range p.Changes {
					if c.Action == ActionPendingDelete && !strings.Contains(c.Reason, "rule dept skipped 1 records with problems") {
						t.Errorf("%s: %q", c.Skill, c.Reason)
					}
				}
				if next := p.NextPending(); len(next) != 1 || next[0].SkillID != 1 || next[0].ConsecutiveMissingRuns != 1 || next[0].FirstMissingRun != 4 {
					t.Errorf("next pending %+v, want Sales unchanged and Billing not started", next)
				}
				held := *p
				held.Changes = slices.DeleteFunc(slices.Clone(p.Changes), func(c Change) bool { return c.Action == ActionDelete })
				if held.HasChanges() {
					t.Error("held pending deletes alone count as changes")
				}
			},
		},
		{
			name: "changed key with the same name re-keys the registry",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "team|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")}},
			counts: Summary{Unchanged: 1},
			check: func(t *testing.T, p *Plan) {
				if len(p.RegistryFixes) != 1 || p.RegistryFixes[0].RuleKey != "team|Sales" || p.RegistryFixes[0].SkillID != 1 {
					t.Errorf("fixes %+v", p.RegistryFixes)
				}
			},
		},
		{
			name: "takeover: a lost create of a desired skill is adopted, not a conflict",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current:     []liveperson.Skill{lpSkill(5, "SALES", 120)},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if !c.Adopt || c.CreatedByRun != 12 || c.SkillID != 5 || c.Reason != "created by run 12, which stopped before LivePerson's answer arrived: taken over" {
					t.Errorf("change %+v", c)
				}
				// The name is managed: its case is set as the rule says.
				if !slices.Equal(c.Fields, []string{"name"}) {
					t.Errorf("fields %v", c.Fields)
				}
				if len(p.Takeovers) != 1 || p.Takeovers[0].SkillID != 5 || p.Takeovers[0].RuleKey != "dept|Sales" ||
					p.Takeovers[0].RuleID != "dept" || *p.Takeovers[0].CreatedByRun != 12 || p.Takeovers[0].Adopted {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 taken_over 5")
			},
		},
		{
			// Taking ownership is a change (plan --detailed-exitcode
			// exits 2; the apply run ends applied), fields or not.
			name: "takeover with nothing to write still shows, registers and is a change",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "Sales", 120)}, Written: map[int64]SkillState{},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Adopt || c.CreatedByRun != 12 || len(c.Diff) != 0 || !p.HasChanges() {
					t.Errorf("change %+v", c)
				}
				checkResolutions(t, p, "31 taken_over 5")
			},
		},
		{
			name: "takeover of a skill no longer desired puts it through the delete grace",
			in: PlanInput{Current: []liveperson.Skill{lpSkill(5, "Sales", 120)}, DeleteAfterRuns: 2, RunID: 13,
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"pending_delete Sales"},
			counts: Summary{PendingDelete: 1},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if c.SkillID != 5 || c.CreatedByRun != 12 || c.FirstMissingRun != 13 ||
					!strings.HasPrefix(c.Reason, "created by run 12, which stopped before LivePerson's answer arrived: taken over; no rule") {
					t.Errorf("change %+v", c)
				}
				if len(p.Takeovers) != 1 || !p.HasChanges() {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 taken_over 5")
			},
		},
		{
			name: "takeover under a renamed template renames in place",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales team", "dept|Sales", 120)},
				Current:     []liveperson.Skill{lpSkill(5, "Sales", 120)},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales team"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Adopt || c.SkillID != 5 || c.RenamedFrom != "Sales" {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "a lost create that did not happen: created now",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"create Sales"},
			counts: Summary{Create: 1},
			check: func(t *testing.T, p *Plan) {
				if len(p.Takeovers) != 0 {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 absent 0")
			},
		},
		{
			name: "a create never sent takes nothing over: the skill is someone else's",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current:     []liveperson.Skill{lpSkill(5, "Sales", 120)},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpIntended)}},
			want:   []string{"unmanaged_conflict Sales"},
			counts: Summary{UnmanagedConflict: 1},
			check: func(t *testing.T, p *Plan) {
				if len(p.Takeovers) != 0 {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 not_sent 0")
			},
		},
		{
			name: "a lost create whose skill is managed already changes nothing",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "Sales", 120)}, Registry: []store.OwnedSkill{owned(5, "Sales", "dept|Sales")},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			counts: Summary{Unchanged: 1},
			check: func(t *testing.T, p *Plan) {
				if len(p.Takeovers) != 0 || p.HasChanges() {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 managed 5")
			},
		},
		{
			name: "a lost create whose key another live skill holds is left alone",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(1, "Sales", 120), lpSkill(5, "Sales team", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales", "dept|Sales")},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales team", "dept|Sales", store.OpSent)}},
			counts: Summary{Unchanged: 1},
			check: func(t *testing.T, p *Plan) {
				if len(p.Takeovers) != 0 {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
				checkResolutions(t, p, "31 left 5")
			},
		},
		{
			name: "a lost recreate replaces the vanished skill it was for",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "Sales", 120)}, Registry: []store.OwnedSkill{owned(1, "Sales (old)", "dept|Sales")},
				Gone:        map[int64]bool{1: true},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Adopt || c.SkillID != 5 || !slices.Equal(p.Forget, []int64{1}) || len(p.Takeovers) != 1 {
					t.Errorf("change %+v forget %v takeovers %+v", c, p.Forget, p.Takeovers)
				}
			},
		},
		{
			name: "two lost creates of one name: the newer run's takes it",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)},
				Current: []liveperson.Skill{lpSkill(5, "Sales", 120)},
				Unconfirmed: []store.Operation{lostCreate(21, 11, "Sales", "dept|Sales", store.OpSent),
					lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; c.CreatedByRun != 12 || len(p.Takeovers) != 1 {
					t.Errorf("change %+v", c)
				}
				checkResolutions(t, p, "21 managed 5", "31 taken_over 5")
			},
		},
		{
			name: "create-only: a takeover registers and writes nothing",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)}, Policy: PolicyCreateOnly,
				Current:     []liveperson.Skill{lpSkill(5, "Sales", 60)},
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			want:   []string{"update Sales"},
			counts: Summary{Update: 1},
			check: func(t *testing.T, p *Plan) {
				if c := p.Changes[0]; !c.Adopt || len(c.Diff) != 0 || len(c.Fields) != 0 || *c.After.MaxWaitTime != 60 {
					t.Errorf("change %+v", c)
				}
			},
		},
		{
			name: "upsert-only: a takeover no longer desired is registered, never deleted",
			in: PlanInput{Current: []liveperson.Skill{lpSkill(5, "Sales", 120)}, Policy: PolicyUpsertOnly, DeleteAfterRuns: 1,
				Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent)}},
			check: func(t *testing.T, p *Plan) {
				if len(p.Takeovers) != 1 || p.HasChanges() {
					t.Errorf("takeovers %+v", p.Takeovers)
				}
			},
		},
		{
			name: "released skills are not ours",
			in: PlanInput{Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120)}, Current: []liveperson.Skill{lpSkill(1, "Sales", 60)},
				Registry: []store.OwnedSkill{{SkillID: 1, Name: "Sales", RuleKey: "dept|Sales", ReleasedAt: ptr(time0)}}},
			want:   []string{"unmanaged_conflict Sales"},
			counts: Summary{UnmanagedConflict: 1},
		},
	}
	// Every policy over one mixed input.
	mixed := PlanInput{
		Desired:  []DesiredSkill{desired("A", "r|A", 120), desired("B", "r|B", 120), desired("C", "r|C", 120)},
		Current:  []liveperson.Skill{lpSkill(2, "B", 60), lpSkill(3, "c", 1), lpSkill(4, "D", 120), lpSkill(5, "E", 120)},
		Registry: []store.OwnedSkill{owned(2, "B", "r|B"), owned(4, "D", "r|D"), owned(5, "E", "r|E")},
		Pending:  []store.PendingDelete{{SkillID: 4, FirstMissingRun: 1, ConsecutiveMissingRuns: 1}}, DeleteAfterRuns: 2, RunID: 2,
		AdoptExisting: true,
	}
	for _, pc := range []struct {
		policy Policy
		want   []string
		counts Summary
	}{
		{PolicySync, []string{"create A", "update B", "update C", "delete D", "pending_delete E"}, Summary{Create: 1, Update: 2, Delete: 1, PendingDelete: 1}},
		{PolicyUpsertOnly, []string{"create A", "update B", "update C"}, Summary{Create: 1, Update: 2}},
		{PolicyCreateOnly, []string{"create A", "unmanaged_conflict C"}, Summary{Create: 1, Unchanged: 1, UnmanagedConflict: 1}},
	} {
		in := mixed
		in.Policy = pc.policy
		tests = append(tests, struct {
			name   string
			in     PlanInput
			want   []string
			check  func(t *testing.T, p *Plan)
			counts Summary
		}{name: "policy " + string(pc.policy), in: in, want: pc.want, counts: pc.counts})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := BuildPlan(tt.in)
			var got []string
			for _, c := range p.Changes {
				got = append(got, string(c.Action)+" "+c.Skill)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("changes\n got %q\nwant %q", got, tt.want)
			}
			if s := p.Summary(); s != tt.counts {
				t.Errorf("summary %+v, want %+v", s, tt.counts)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
			// Pure and deterministic: the same input gives the same JSON.
			a, _ := json.Marshal(p)
			b, _ := json.Marshal(BuildPlan(tt.in))
			if !bytes.Equal(a, b) {
				t.Errorf("plan not deterministic:\n%s\n%s", a, b)
			}
		})
	}
}

func TestPlanRendering(t *testing.T) {
	t.Parallel()
	p := BuildPlan(PlanInput{
		Desired:  []DesiredSkill{desired("A", "r|A", 120, "1"), desired("B2", "r|B", 120), desired("C", "r|C", 120)},
		Current:  []liveperson.Skill{lpSkill(2, "B", 60), lpSkill(3, "C", 1), lpSkill(4, "D", 120), lpSkill(5, "E", 120)},
		Registry: []store.OwnedSkill{owned(2, "B", "r|B"), owned(4, "D", "r|D"), owned(5, "E", "r|E")},
		Pending:  []store.PendingDelete{{SkillID: 4, FirstMissingRun: 1, ConsecutiveMissingRuns: 1}}, DeleteAfterRuns: 2, RunID: 2,
	})
	var text bytes.Buffer
	if err := p.RenderText(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  + A  rule r, 1 member: 1", "  ~ B → B2  (rename)", "      max_wait_time: 60 → 120", `      name: "B" → "B2"`,
		"  - D", "? E", "! C", "Plan: 1 to create, 1 to update, 1 to delete, 1 pending. 1 unmanaged conflicts.",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "\x1b[") {
		t.Error("colour without asking")
	}
	var colored bytes.Buffer
	_ = p.RenderText(&colored, true)
	if !strings.Contains(colored.String(), "\x1b[32m  + A") {
		t.Errorf("no colour:\n%q", colored.String())
	}
	var js bytes.Buffer
	if err := p.RenderJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		FormatVersion int            `json:"format_version"`
		Summary       map[string]int `json:"summary"`
		Changes       []map[string]any
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FormatVersion != 1 || doc.Summary["create"] != 1 || doc.Summary["pending_delete"] != 1 || doc.Summary["unmanaged_conflict"] != 1 {
		t.Errorf("json %s", js.String())
	}
	for _, key := range []string{"unchanged", "update", "delete", "assign", "unassign"} {
		if _, ok := doc.Summary[key]; !ok {
			t.Errorf("summary lacks %q", key)
		}
	}
	for _, c := range doc.Changes {
		for _, key := range []string{"action", "skill", "fields", "rule", "members"} {
			if _, ok := c[key]; !ok {
				t.Errorf("change lacks %q: %v", key, c)
			}
		}
		if _, ok := c["fields"].([]any); !ok {
			t.Errorf("fields is not a list: %v", c)
		}
	}
}

// TestPlanRenderingTakeover: a takeover reads as an adoption that says
// which run created the skill, and every unanswered create is listed with
// what the run does about it, in text and in JSON.
func TestPlanRenderingTakeover(t *testing.T) {
	t.Parallel()
	p := BuildPlan(PlanInput{
		Desired: []DesiredSkill{desired("Sales", "dept|Sales", 120), desired("Support", "dept|Support", 120)},
		Current: []liveperson.Skill{lpSkill(5, "Sales", 120)},
		Unconfirmed: []store.Operation{lostCreate(31, 12, "Sales", "dept|Sales", store.OpSent),
			lostCreate(32, 12, "Support", "dept|Support", store.OpSent)},
	})
	var text bytes.Buffer
	if err := p.RenderText(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  ~ Sales  (adopt)  id 5, rule dept",
		"      # created by run 12, which stopped before LivePerson's answer arrived: taken over",
		"  + Support",
		"Creates of earlier runs that never got LivePerson's answer:",
		"  ~ Sales  run 12, taken over\n      # skill 5 exists with every field the create sent: taken over",
		"  · Support  run 12, absent\n      # no skill named \"Support\" in LivePerson: the create did not happen",
		"Plan: 1 to create, 1 to update, 0 to delete, 0 pending.",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	var doc struct {
		Changes []struct {
			Skill        string `json:"skill"`
			Adopt        bool   `json:"adopt"`
			CreatedByRun int64  `json:"created_by_run"`
		} `json:"changes"`
		Unconfirmed []CreateResolution `json:"unconfirmed_creates"`
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Changes) != 2 || !doc.Changes[0].Adopt || doc.Changes[0].CreatedByRun != 12 ||
		len(doc.Unconfirmed) != 2 || doc.Unconfirmed[0].Resolution != ResolutionTakenOver || doc.Unconfirmed[1].Resolution != ResolutionAbsent {
		t.Errorf("json %s", b)
	}
}

// memAccount is an in-memory LivePerson account and registry that applies
// plans the way the applier does, for the convergence property.
type memAccount struct {
	skills   []liveperson.Skill
	registry []store.OwnedSkill
	nextID   int64
}

func (m *memAccount) apply(p *Plan) error {
	reg := map[int64]store.OwnedSkill{}
	for _, r := range m.registry {
		reg[r.SkillID] = r
	}
	for _, id := range p.Forget {
		delete(reg, id)
	}
	for _, t := range p.Takeovers {
		reg[t.SkillID] = t
	}
	for _, f := range p.RegistryFixes {
		reg[f.SkillID] = f
	}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			for _, o := range m.skills {
				if strings.EqualFold(o.Name, c.After.Name) {
					return fmt.Errorf("create %q: name held by skill %d (deleted %v)", c.After.Name, o.ID, o.Deleted)
				}
			}
			m.nextID++
			s := *c.After
			s.ID = m.nextID
			m.skills = append(m.skills, s)
			delete(reg, c.ReplacesID)
			reg[s.ID] = store.OwnedSkill{SkillID: s.ID, Name: s.Name, RuleID: c.Rule, RuleKey: c.Key}
		case ActionUpdate:
			for i := range m.skills {
				if m.skills[i].ID == c.SkillID {
					m.skills[i] = *c.After
				}
			}
			reg[c.SkillID] = store.OwnedSkill{SkillID: c.SkillID, Name: c.After.Name, RuleID: c.Rule, RuleKey: c.Key, Adopted: c.Adopt}
		case ActionDelete:
			for i := range m.skills {
				if m.skills[i].ID == c.SkillID {
					m.skills[i].Deleted = true
				}
			}
			delete(reg, c.SkillID)
		}
	}
	m.registry = m.registry[:0]
	for _, id := range sortedKeys(reg) {
		m.registry = append(m.registry, reg[id])
	}
	return nil
}

func sortedKeys[V any](m map[int64]V) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// randomWorld builds desired skills, an account and a registry mixing
// every case the planner distinguishes.
func randomWorld(seed uint64) (PlanInput, *memAccount) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	acct := &memAccount{nextID: 1000}
	var in PlanInput
	n := rng.IntN(12)
	usedNames := map[string]bool{}
	name := func() string {
		for {
			s := fmt.Sprintf("skill %d", rng.IntN(40))
			if rng.IntN(4) == 0 {
				s = strings.ToUpper(s)
			}
			if !usedNames[strings.ToLower(s)] {
				usedNames[strings.ToLower(s)] = true
				return s
			}
		}
	}
	for i := range n {
		d := desired(name(), fmt.Sprintf("r|%d", i), 60+rng.IntN(3)*30, "1")
		if rng.IntN(3) == 0 {
			d.ManageDescription, d.Description = true, fmt.Sprintf("d%d", rng.IntN(2))
		}
		in.Desired = append(in.Desired, d)
		id := int64(i + 1)
		switch rng.IntN(8) {
		case 0: // owned, maybe different settings
			s := lpSkill(id, d.Name, 60+rng.IntN(3)*30)
			acct.skills = append(acct.skills, s)
			acct.registry = append(acct.registry, owned(id, d.Name, d.Key))
		case 1: // owned under an old name (rename)
			old := name()
			acct.skills = append(acct.skills, lpSkill(id, old, 90))
			acct.registry = append(acct.registry, owned(id, old, d.Key))
		case 2: // owned, deleted by hand
			s := lpSkill(id, d.Name, 90)
			s.Deleted = true
			acct.skills = append(acct.skills, s)
			acct.registry = append(acct.registry, owned(id, d.Name, d.Key))
		case 3: // unowned with the same name (conflict or adopt)
			acct.skills = append(acct.skills, lpSkill(id, strings.ToLower(d.Name), 30))
		case 4: // created by a run that died before the answer
			op, made := lostCreateOf(id, 1, d)
			acct.skills = append(acct.skills, made)
			in.Unconfirmed = append(in.Unconfirmed, op)
		case 5: // a run died before the answer, and someone made the skill by hand
			op, _ := lostCreateOf(id, 1, d)
			s := lpSkill(id, d.Name, 60+rng.IntN(3)*30)
			s.Description = "made by hand"
			acct.skills = append(acct.skills, s)
			in.Unconfirmed = append(in.Unconfirmed, op)
		}
	}
	for i := range rng.IntN(5) { // owned, no longer desired
		id := int64(100 + i)
		nm := name()
		acct.skills = append(acct.skills, lpSkill(id, nm, 120))
		acct.registry = append(acct.registry, owned(id, nm, fmt.Sprintf("r|gone%d", i)))
	}
	for i := range rng.IntN(3) { // created by a run that died, no longer desired
		id := int64(300 + i)
		nm := name()
		acct.skills = append(acct.skills, lpSkill(id, nm, 120))
		in.Unconfirmed = append(in.Unconfirmed, lostCreate(id, 1, nm, fmt.Sprintf("r|lost%d", i), store.OpSent))
	}
	if rng.IntN(2) == 0 { // a create that died before it was sent
		in.Unconfirmed = append(in.Unconfirmed, lostCreate(400, 1, name(), "r|unsent", store.OpIntended))
	}
	for i := range rng.IntN(5) { // unowned, unrelated
		s := lpSkill(int64(200+i), name(), 45)
		s.Extra["custom"] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		acct.skills = append(acct.skills, s)
	}
	slices.SortFunc(in.Desired, func(a, b DesiredSkill) int { return strings.Compare(a.Name, b.Name) })
	in.Policy = PolicySync
	in.AdoptExisting = rng.IntN(2) == 0
	in.DeleteAfterRuns = 1
	return in, acct
}

func checkConvergence(t *testing.T, seed uint64) {
	in, acct := randomWorld(seed)
	ownedBefore := map[int64]bool{}
	for _, r := range acct.registry {
		ownedBefore[r.SkillID] = true
	}
	unowned := map[int64]liveperson.Skill{}
	for _, s := range acct.skills {
		if !ownedBefore[s.ID] {
			unowned[s.ID] = s
		}
	}
	in.Current, in.Registry = slices.Clone(acct.skills), slices.Clone(acct.registry)
	p := BuildPlan(in)
	if err := acct.apply(p); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}

	conflicts := map[string]bool{}
	adopted := map[int64]bool{}
	for _, t := range p.Takeovers {
		adopted[t.SkillID] = true
	}
	if len(p.Unconfirmed) != len(in.Unconfirmed) {
		t.Errorf("seed %d: %d resolutions for %d unanswered creates", seed, len(p.Unconfirmed), len(in.Unconfirmed))
	}
	lost := map[string]bool{} // names of lost creates whose skill is the one sent
	byName := map[string]liveperson.Skill{}
	for _, s := range acct.skills {
		byName[strings.ToLower(s.Name)] = s
	}
	for _, op := range in.Unconfirmed {
		if s, ok := byName[strings.ToLower(op.SkillName)]; ok && op.State == store.OpSent && madeBy(&s, op.Sent) == "" {
			lost[strings.ToLower(op.SkillName)] = true
		}
	}
	for _, r := range p.Unconfirmed {
		if r.Resolution == ResolutionTakenOver && !lost[strings.ToLower(r.Skill)] {
			t.Errorf("seed %d: skill %d %q taken over, but it is not what the create sent", seed, r.SkillID, r.Skill)
		}
	}
	for _, c := range p.Changes {
		if c.Action == ActionUnmanagedConflict && lost[strings.ToLower(c.Skill)] {
			t.Errorf("seed %d: skill %q of a lost create reported as a conflict: %s", seed, c.Skill, c.Reason)
		}
		if c.Action == ActionUnmanagedConflict {
			conflicts[c.Skill] = true
		}
		if c.Adopt {
			adopted[c.SkillID] = true
		}
	}
	// Owned live skills are exactly the desired ones (less conflicts).
	live := map[string]liveperson.Skill{}
	for _, r := range acct.registry {
		for _, s := range acct.skills {
			if s.ID == r.SkillID && !s.Deleted {
				live[s.Name] = s
			}
		}
	}
	var want, got []string
	for _, d := range in.Desired {
		if !conflicts[d.Name] {
			want = append(want, d.Name)
			s, ok := live[d.Name]
			if ok && (*s.MaxWaitTime != *d.Settings.MaxWaitTime || (d.ManageDescription && s.Description != d.Description)) {
				t.Errorf("seed %d: %s not converged: %+v", seed, d.Name, s)
			}
		}
	}
	for n := range live {
		got = append(got, n)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("seed %d: owned live skills %q, want %q\nplan %+v", seed, got, want, p.Changes)
	}
	// Unowned skills are byte-for-byte unchanged (adopted ones became ours).
	for _, s := range acct.skills {
		if u, ok := unowned[s.ID]; ok && !adopted[s.ID] && !reflect.DeepEqual(s, u) {
			t.Errorf("seed %d: unowned skill %d changed:\n%+v\n%+v", seed, s.ID, u, s)
		}
	}
	// Planning again finds nothing to do (the applier has settled the
	// unanswered creates).
	in.Current, in.Registry, in.Unconfirmed = slices.Clone(acct.skills), slices.Clone(acct.registry), nil
	again := BuildPlan(in)
	if again.HasChanges() {
		t.Fatalf("seed %d: second plan not empty: %+v fixes %+v forget %v", seed, again.Changes, again.RegistryFixes, again.Forget)
	}
}

func TestPlanConvergesProperty(t *testing.T) {
	t.Parallel()
	for seed := range uint64(2000) {
		checkConvergence(t, seed)
	}
}

func FuzzPlanConverges(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		checkConvergence(t, seed)
	})
}

var time0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestPlanMarshalJSONIsCompact pins what the run relies on when it stores
// MarshalJSON's output as it is: json.Marshal of a plan (which compacts
// what MarshalJSON gives) is the same bytes.
func TestPlanMarshalJSONIsCompact(t *testing.T) {
	t.Parallel()
	p := &Plan{RunID: 7, Policy: PolicySync,
		Changes: []Change{{Action: ActionCreate, Skill: "R&D <Tier 2>", Fields: []string{"name"}, Rule: "team", Members: 3, MemberIDs: []string{"1", "2"}},
			{Action: ActionDelete, Skill: "Old\u2028one", SkillID: 4, Reason: "gone \"for good\""}},
		Problems: []RecordProblem{{RecordID: "9", Origin: "hr.csv:10", RuleID: "team", Msg: "name: <empty> & bad"}},
		Warnings: []string{"a\tb"},
		Assignments: &AssignmentPlan{Match: "email", Matched: 1, Users: []UserChange{{UserID: 5, Email: "a&b@x.io", RecordID: "1", Active: true,
			Assign: []SkillRef{{Skill: "R&D <Tier 2>", Rule: "team"}}}}, Notes: []string{"é"}},
	}
	direct, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	viaMarshal, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct, viaMarshal) {
		t.Errorf("MarshalJSON:\n%s\njson.Marshal:\n%s", direct, viaMarshal)
	}
}
