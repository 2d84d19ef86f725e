package sync

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

func TestCheckHealthEdges(t *testing.T) {
	t.Parallel()
	// 10 records, 8 active; record 9 lacks an email-like attribute.
	rows := make([]map[string]string, 10)
	for i := range rows {
		rows[i] = map[string]string{"id": fmt.Sprint(i + 1), "Mail": "x@example.com"}
		if i >= 8 {
			rows[i]["active"] = "false"
		}
	}
	rows[8]["Mail"] = ""
	snap := snapshotOf([]string{"id", "Mail"}, nil, rows...)
	last := func(active int) *store.Snapshot { return &store.Snapshot{Active: active, Accepted: true} }
	tests := []struct {
		name    string
		cfg     SyncConfig
		last    *store.Snapshot
		refused string
	}{
		{"min_records met exactly", SyncConfig{MinRecords: 10}, nil, ""},
		{"min_records one short", SyncConfig{MinRecords: 11}, nil, "the HR feed has 10 records, fewer than sync.min_records (11)"},
		{"no previous snapshot", SyncConfig{MaxActiveDropPercent: 1}, nil, ""},
		// 10 → 8 active is a 20% drop: allowed at 20, refused at 19.9.
		{"drop exactly at the limit", SyncConfig{MaxActiveDropPercent: 20}, last(10), ""},
		{"drop just over the limit", SyncConfig{MaxActiveDropPercent: 19.9}, last(10), "active headcount fell from 10 to 8 (20.0%), more than sync.max_active_drop_percent (19.9%)"},
		{"growth is fine", SyncConfig{MaxActiveDropPercent: 0.1}, last(5), ""},
		{"drop guard disabled", SyncConfig{MaxActiveDropPercent: -1}, last(100), ""},
		{"required field present everywhere", SyncConfig{RequiredFields: []string{"id"}}, nil, ""},
		{"required field missing", SyncConfig{RequiredFields: []string{"Mail"}}, nil, `1 of 10 records lack required field "Mail" (sync.required_fields), e.g. record 9`},
		{"min_records 0: no minimum", SyncConfig{MinRecords: 0}, nil, ""},
		{"max_active_drop_percent 0: no drop is fine", SyncConfig{MaxActiveDropPercent: 0}, last(8), ""},
		{"max_active_drop_percent 0: any drop refuses", SyncConfig{MaxActiveDropPercent: 0}, last(9), "active headcount fell from 9 to 8 (11.1%), more than sync.max_active_drop_percent (0%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := CheckHealth(snap, tt.last, tt.cfg)
			if h.Records != 10 || h.Active != 8 {
				t.Errorf("counted %d records, %d active", h.Records, h.Active)
			}
			if tt.refused == "" && h.Refusal != "" {
				t.Errorf("refused: %s", h.Refusal)
			}
			if tt.refused != "" && !strings.Contains(h.Refusal, tt.refused) {
				t.Errorf("refusal %q, want %q", h.Refusal, tt.refused)
			}
		})
	}
}

func TestDeleteBudgetEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   SyncConfig
		owned int
		want  int
	}{
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 25}, 100, 10},
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 25}, 40, 10},
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 25}, 39, 9}, // floor(9.75)
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 25}, 4, 1},
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 25}, 3, 1}, // at least one, so small accounts converge
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: -1}, 3, 10},
		{SyncConfig{MaxDeletes: -1, MaxDeletePercent: 50}, 10, 5},
		{SyncConfig{MaxDeletes: 2, MaxDeletePercent: 100}, 10, 2},
		{SyncConfig{MaxDeletes: 0, MaxDeletePercent: 100}, 10, 0},        // max_deletes 0 freezes deletes
		{SyncConfig{MaxDeletes: 10, MaxDeletePercent: 0}, 3, 0},          // so does max_delete_percent 0, even on a small account
		{SyncConfig{MaxDeletes: -1, MaxDeletePercent: -1}, 3, 1<<63 - 1}, // both off
		{DefaultSyncConfig(), 100, 10},
	}
	for _, tt := range tests {
		if got := DeleteBudget(tt.cfg, tt.owned); got != tt.want {
			t.Errorf("DeleteBudget(%+v, %d) = %d, want %d", tt.cfg, tt.owned, got, tt.want)
		}
	}
}

func TestApplyDeleteBudget(t *testing.T) {
	t.Parallel()
	p := &Plan{Changes: []Change{
		{Action: ActionCreate, Skill: "new"},
		{Action: ActionDelete, Skill: "a", FirstMissingRun: 5},
		{Action: ActionDelete, Skill: "b", FirstMissingRun: 3},
		{Action: ActionDelete, Skill: "c", FirstMissingRun: 4},
	}}
	if n := ApplyDeleteBudget(p, 3); n != 0 {
		t.Fatalf("budget 3 deferred %d", n)
	}
	if n := ApplyDeleteBudget(p, 2); n != 1 {
		t.Fatalf("budget 2 deferred %d", n)
	}
	// The skill missing for the shortest time waits.
	if p.Changes[1].Action != ActionPendingDelete || !strings.Contains(p.Changes[1].Reason, "delete budget") {
		t.Errorf("a: %+v", p.Changes[1])
	}
	if s := p.Summary(); s.Create != 1 || s.Delete != 2 || s.PendingDelete != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestDeleteGraceAcrossRuns(t *testing.T) {
	t.Parallel()
	// delete_after_runs 3: runs 1 and 2 pend, run 3 deletes; a skill
	// desired again leaves the pending set.
	in := PlanInput{Current: []liveperson.Skill{lpSkill(1, "Old", 120), lpSkill(2, "Back", 120)},
		Registry:        []store.OwnedSkill{owned(1, "Old", "r|Old"), owned(2, "Back", "r|Back")},
		DeleteAfterRuns: 3}
	var pending []store.PendingDelete
	for run := int64(1); run <= 3; run++ {
		in.RunID, in.Pending = run, pending
		if run == 2 {
			in.Desired = []DesiredSkill{desired("Back", "r|Back", 120)}
		} else {
			in.Desired = nil
		}
		p := BuildPlan(in)
		pending = p.NextPending()
		var old Change
		for _, c := range p.Changes {
			if c.Skill == "Old" {
				old = c
			}
		}
		want := map[int64]Action{1: ActionPendingDelete, 2: ActionPendingDelete, 3: ActionDelete}[run]
		if old.Action != want || old.MissingRuns != int(run) || old.FirstMissingRun != 1 {
			t.Errorf("run %d: %+v, want %s", run, old, want)
		}
		if run == 2 {
			for _, pd := range pending {
				if pd.SkillID == 2 {
					t.Errorf("run 2: desired skill still pending")
				}
			}
		}
		if run == 3 {
			for _, c := range p.Changes {
				if c.Skill == "Back" && (c.MissingRuns != 1 || c.FirstMissingRun != 3) {
					t.Errorf("run 3: Back restarted grace wrong: %+v", c)
				}
			}
		}
	}
}

func TestSyncConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	d := DefaultSyncConfig()
	if d.Policy != PolicySync || d.MinRecords != 1 || d.MaxActiveDropPercent != 20 || d.MaxDeletes != 10 || d.MaxDeletePercent != 25 ||
		d.DeleteAfterRuns != 2 || d.MaxConflictRetries != 3 || len(d.Validate()) != 0 {
		t.Errorf("DefaultSyncConfig() = %+v, problems %v", d, d.Validate())
	}
	// WithDefaults never turns a 0 back into a default.
	zero := SyncConfig{DeleteAfterRuns: 1}.WithDefaults()
	if fmt.Sprintf("%+v", zero) != fmt.Sprintf("%+v", SyncConfig{Policy: PolicySync, DeleteAfterRuns: 1}) {
		t.Errorf("WithDefaults = %+v", zero)
	}
	for _, tt := range []struct {
		edit func(*SyncConfig)
		want string
	}{
		{func(c *SyncConfig) { c.DeleteAfterRuns = 0 }, "sync.delete_after_runs: 0; it must be at least 1"},
		{func(c *SyncConfig) { c.MaxConflictRetries = -1 }, "sync.max_conflict_retries: -1 is negative"},
		{func(c *SyncConfig) { c.MinRecords = -1 }, "sync.min_records: -1 is negative"},
		{func(c *SyncConfig) {
			c.MaxDeletes, c.MaxDeletePercent, c.MaxActiveDropPercent, c.MaxConflictRetries, c.MinRecords = -1, -1, -1, 0, 0
		}, ""},
	} {
		c := DefaultSyncConfig()
		tt.edit(&c)
		errs := c.Validate()
		if tt.want == "" && len(errs) > 0 || tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", c, errs, tt.want)
		}
	}
	a := DefaultAssignmentsConfig()
	if a.Enabled || a.Match != "email" || a.MaxChangesPercent != 20 || !a.KeepUnmatched {
		t.Errorf("DefaultAssignmentsConfig() = %+v", a)
	}
}

// TestGuardDeletesOrder pins the delete guard's order: referenced skills
// are held first (and do not use up the budget), then the budget (longest
// missing deleted first), then unreadable users hold every delete left
// without advancing its grace. Each held delete comes back with its hold
// and reason.
func TestGuardDeletesOrder(t *testing.T) {
	t.Parallel()
	plan := func() *Plan {
		del := func(id int64, name string, first int64) Change {
			return Change{Action: ActionDelete, SkillID: id, Skill: name, FirstMissingRun: first, MissingRuns: 2, Reason: "gone"}
		}
		return &Plan{Changes: []Change{del(1, "Referenced", 1), del(2, "Recent", 5), del(3, "Oldest", 3)}}
	}
	current := []liveperson.Skill{{ID: 1, Name: "Referenced"}, {ID: 2, Name: "Recent"}, {ID: 3, Name: "Oldest"},
		{ID: 10, Name: "Router", SkillTransferList: []int64{1}}}
	type want struct {
		action     Action
		hold       DeleteHold
		missing    int
		graceHeld  bool
		reasonPart string
	}
	tests := []struct {
		name string
		in   GuardInput
		want map[int64]want
	}{
		{"referenced first, then the budget", GuardInput{Current: current, Budget: 1}, map[int64]want{
			1: {ActionPendingDelete, HoldReferenced, 2, false, `still held by skill 10 "Router" (transfer list)`},
			2: {ActionPendingDelete, HoldBudget, 2, false, "held back by the delete budget (1 deletes this run"},
			3: {ActionDelete, "", 2, false, "gone"},
		}},
		{"a referenced skill uses no budget", GuardInput{Current: current, Budget: 2}, map[int64]want{
			1: {ActionPendingDelete, HoldReferenced, 2, false, "still held by"},
			2: {ActionDelete, "", 2, false, "gone"},
			3: {ActionDelete, "", 2, false, "gone"},
		}},
		{"unreadable users hold what is left, grace not advanced", GuardInput{Current: current, Budget: 1,
			UsersUnreadable: &liveperson.APIError{Status: 401}}, map[int64]want{
			1: {ActionPendingDelete, HoldReferenced, 2, false, "still held by"},
			2: {ActionPendingDelete, HoldBudget, 2, false, "delete budget"},
			3: {ActionPendingDelete, HoldUsersUnreadable, 1, true, "LivePerson refused to list users"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := plan()
			held := GuardDeletes(p, tt.in)
			holds := map[int64]HeldDelete{}
			for i, h := range held {
				holds[h.SkillID] = h
				if i > 0 && h.Hold != held[i-1].Hold && slices.Index([]DeleteHold{HoldReferenced, HoldBudget, HoldUsersUnreadable}, h.Hold) <
					slices.Index([]DeleteHold{HoldReferenced, HoldBudget, HoldUsersUnreadable}, held[i-1].Hold) {
					t.Errorf("held deletes out of hold order: %+v", held)
				}
			}
			for _, c := range p.Changes {
				w := tt.want[c.SkillID]
				if c.Action != w.action || c.MissingRuns != w.missing || c.graceHeld != w.graceHeld || !strings.Contains(c.Reason, w.reasonPart) {
					t.Errorf("skill %d: %s, missing %d, grace held %v, %q; want %+v", c.SkillID, c.Action, c.MissingRuns, c.graceHeld, c.Reason, w)
				}
				h, ok := holds[c.SkillID]
				if ok != (w.hold != "") || h.Hold != w.hold || (ok && h.Reason != c.Reason) {
					t.Errorf("skill %d held as %+v, want hold %q with the plan's reason", c.SkillID, h, w.hold)
				}
			}
			if unreadable := tt.in.UsersUnreadable != nil; unreadable != slices.ContainsFunc(p.Warnings, func(w string) bool {
				return strings.Contains(w, "LivePerson answered 401 to GET users")
			}) {
				t.Errorf("warnings %q", p.Warnings)
			}
		})
	}
}
