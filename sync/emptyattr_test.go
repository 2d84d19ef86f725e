package sync

import (
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// TestEmptyNameAttributeIsARecordProblem: a record whose attribute the
// name template prints is empty would make a junk skill ("/ Manager"): it
// is a record problem instead (which holds the deletes of the rule's
// skills). A template that leaves the attribute out when it is empty, or
// prints something else in its place, says that an empty one is fine.
func TestEmptyNameAttributeIsARecordProblem(t *testing.T) {
	t.Parallel()
	snap := snapshotOf([]string{"id", "dept", "role"}, nil,
		map[string]string{"id": "1", "dept": "Sales", "role": "Manager"},
		map[string]string{"id": "2", "dept": "", "role": "Manager"},
		map[string]string{"id": "3", "dept": "Sales", "role": ""},
		map[string]string{"id": "4", "dept": " ", "role": "Agent"},
	)
	for _, tc := range []struct {
		name, template string
		want           []string // skills
		problems       []string // record ids
	}{
		{"both printed", "{{ .dept }} / {{ .role }}", []string{"Sales / Manager"}, []string{"2", "3", "4"}},
		{"printed through a function", "{{ .dept | upper }}-{{ printf \"%s\" .role }}", []string{"SALES-Manager"}, []string{"2", "3", "4"}},
		{"role guarded", "{{ .dept }}{{ if .role }} / {{ .role }}{{ end }}", []string{"Sales", "Sales / Manager"}, []string{"2", "4"}},
		// An action that prints something whatever the attribute holds
		// makes no junk name.
		{"role with a fallback", "{{ .dept }} / {{ or .role \"Staff\" }}", []string{"Sales / Manager", "Sales / Staff"}, []string{"2", "4"}},
	} {
		rules, err := CompileRules(SkillsConfig{Rules: []Rule{{ID: "r", Name: tc.template}}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := rules.Desired(snap)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var names, ids []string
		for _, d := range got.Skills {
			names = append(names, d.Name)
		}
		for _, p := range got.Problems {
			ids = append(ids, p.RecordID)
			if p.RuleID != "r" || !strings.Contains(p.Msg, "is empty, which would make the skill") {
				t.Errorf("%s: problem %+v", tc.name, p)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.want) || !slices.Equal(ids, tc.problems) {
			t.Errorf("%s: skills %q problems %q, want %q and %q", tc.name, names, ids, tc.want, tc.problems)
		}
	}
}

// TestRunEmptyNameAttributeHoldsDeletes: Cid's department comes through
// empty. The rule "{{ .dept }} / {{ .role }}" makes no "/ Agent" skill of
// him, and Billing / Agent, which looks no longer produced, is not
// deleted: like any record problem, it holds the rule's deletes.
func TestRunEmptyNameAttributeHoldsDeletes(t *testing.T) {
	t.Parallel()
	cfg := Config{Skills: SkillsConfig{Rules: []Rule{{ID: "team", Name: "{{ .dept }} / {{ .role }}"}}},
		Sync: syncConfig(func(c *SyncConfig) { c.DeleteAfterRuns, c.MaxActiveDropPercent = 1, 60 })}
	e := setup(t, baseHR, cfg)
	r := e.runner(cfg)
	e.run(r, store.ModeApply)
	e.writeHR(strings.Replace(baseHR, "Cid,Billing", "Cid,", 1))
	res := e.run(r, store.ModeApply)
	if res.Run.Counts.Delete != 0 || res.Run.Counts.Create != 0 {
		t.Errorf("counts %+v, want nothing deleted or created", res.Run.Counts)
	}
	if _, ok := e.liveSkills()["Billing / Agent"]; !ok {
		t.Error("Billing / Agent was deleted")
	}
	if _, ok := e.liveSkills()["/ Agent"]; ok {
		t.Error("a junk skill \"/ Agent\" was created")
	}
	if len(res.Plan.Problems) != 1 || res.Plan.Problems[0].RecordID != "3" {
		t.Errorf("problems %+v, want Cid's record", res.Plan.Problems)
	}
}
