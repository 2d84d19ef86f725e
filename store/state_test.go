package store_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// sameState compares two states value by value as JSON: the store keeps
// meaning, not bytes.
func sameState(t *testing.T, got, want store.SkillState) bool {
	t.Helper()
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		var gv, wv any
		if err := json.Unmarshal(g, &gv); err != nil {
			t.Fatalf("field %s: %s is not JSON: %v", k, g, err)
		}
		if err := json.Unmarshal(w, &wv); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gv, wv) {
			return false
		}
	}
	return true
}

func TestSkillStates(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()

	if got, err := st.SkillStates(ctx); err != nil || len(got) != 0 {
		t.Fatalf("SkillStates on an empty registry = %v, %v", got, err)
	}
	err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{
		{SkillID: 1, Name: "Sales", RuleKey: "department|Sales"},
		{SkillID: 2, Name: "Support", RuleKey: "department|Support"},
		{SkillID: 3, Name: "R&D", RuleKey: "department|R&D"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sales := store.SkillState{
		"name":          json.RawMessage(`"Sales"`),
		"description":   json.RawMessage(`"Sales \u003cstaff\u003e & co"`),
		"max_wait_time": json.RawMessage(`120`),
		"can_transfer":  json.RawMessage(`true`),
		"transfer_to":   json.RawMessage(`[2,3]`),
		"lob_ids":       json.RawMessage(`[]`),
		"skill_order":   json.RawMessage(`null`),
	}
	support := store.SkillState{"name": json.RawMessage(`"Support"`), "max_wait_time": json.RawMessage(` 60 `)}
	err = st.SetSkillStates(ctx, map[int64]store.SkillState{
		1:  sales,
		2:  support,
		3:  {}, // a state with no fields is still a state
		99: {"name": json.RawMessage(`"Not ours"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.SkillStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !sameState(t, got[1], sales) || !sameState(t, got[2], support) || got[3] == nil || len(got[3]) != 0 {
		t.Fatalf("SkillStates = %s, want skills 1, 2 and 3 as set (99 is not managed)", fmtStates(got))
	}
	for k, v := range got[1] {
		if !json.Valid(v) {
			t.Errorf("field %s = %q, not JSON", k, v)
		}
	}
	if string(got[1]["transfer_to"]) != `[2,3]` || string(got[2]["max_wait_time"]) != `60` {
		t.Errorf("values not compact: transfer_to %s, max_wait_time %s", got[1]["transfer_to"], got[2]["max_wait_time"])
	}

	// A new state replaces the old one whole; nil forgets; a rename of
	// the registry row keeps it.
	sales2 := store.SkillState{"name": json.RawMessage(`"Sales"`), "max_wait_time": json.RawMessage(`90`)}
	if err := st.SetSkillStates(ctx, map[int64]store.SkillState{1: sales2, 2: nil}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Selling", RuleKey: "department|Sales"}}); err != nil {
		t.Fatal(err)
	}
	if got, err = st.SkillStates(ctx); err != nil || len(got) != 2 || !sameState(t, got[1], sales2) || got[2] != nil {
		t.Fatalf("after replace, forget and rename SkillStates = %s, %v", fmtStates(got), err)
	}

	// A value that is not JSON is refused and changes nothing.
	bad := map[int64]store.SkillState{1: {"name": json.RawMessage(`{`)}, 3: sales}
	if err := st.SetSkillStates(ctx, bad); err == nil {
		t.Error("SetSkillStates with a value that is not JSON succeeded")
	}
	if got, _ = st.SkillStates(ctx); !sameState(t, got[1], sales2) || len(got[3]) != 0 {
		t.Errorf("after a refused SetSkillStates = %s", fmtStates(got))
	}

	// Releasing forgets the state; a released skill takes none; managing
	// it again starts without one.
	if _, err := st.ReleaseSkill(ctx, "Selling"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSkillStates(ctx, map[int64]store.SkillState{1: sales}); err != nil {
		t.Fatal(err)
	}
	if got, _ = st.SkillStates(ctx); got[1] != nil {
		t.Errorf("released skill has state %s", fmtStates(got))
	}
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Sales", RuleKey: "department|Sales"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ = st.SkillStates(ctx); got[1] != nil {
		t.Errorf("skill managed again kept its old state: %s", fmtStates(got))
	}

	// Deleting a skill from the registry takes its state with it, also
	// should the same id be registered again.
	if err := st.SetSkillStates(ctx, map[int64]store.SkillState{1: sales}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteOwnedSkills(ctx, []int64{1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertOwnedSkills(ctx, []store.OwnedSkill{{SkillID: 1, Name: "Sales", RuleKey: "department|Sales"}}); err != nil {
		t.Fatal(err)
	}
	if got, err = st.SkillStates(ctx); err != nil || len(got) != 0 {
		t.Errorf("after delete SkillStates = %s, %v; want none", fmtStates(got), err)
	}
	if err := st.SetSkillStates(ctx, nil); err != nil {
		t.Errorf("SetSkillStates(nil) = %v", err)
	}
}

func fmtStates(states map[int64]store.SkillState) string {
	b, _ := json.Marshal(states)
	return string(b)
}
