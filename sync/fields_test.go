package sync

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// settingYAML is a value of a setting as a configuration writes it.
func settingYAML(t *testing.T, f *liveperson.SkillField) string {
	t.Helper()
	switch {
	case f.Kind == liveperson.KindInt || f.Kind == liveperson.KindInt64:
		return "7"
	case f.Kind == liveperson.KindOptBool:
		return "false"
	case f.Kind == liveperson.KindIDs && f.SkillRefs:
		return "[Other]" // by skill name
	case f.Kind == liveperson.KindIDs:
		return "[5, 3]"
	}
	t.Fatalf("setting %q: no YAML value for its kind: teach this test", f.Key)
	return ""
}

// TestEverySettingDrivesTheEngine proves, for every setting of the table
// of skill fields, that the entry alone is enough: the configuration
// decodes it, defaults merge it, the desired skill and the plan's diff
// carry it, the plan renders it, the written state records it, and an
// edit of it in LivePerson is drift.
func TestEverySettingDrivesTheEngine(t *testing.T) {
	fields := liveperson.SkillFields()
	n := 0
	for i := range fields {
		f := &fields[i]
		if !f.Setting {
			continue
		}
		n++
		t.Run(f.Key, func(t *testing.T) {
			// Configuration decoding.
			var s Settings
			if err := yaml.Unmarshal([]byte(f.Key+": "+settingYAML(t, f)), &s); err != nil {
				t.Fatal(err)
			}
			if !f.IsSet(&s) {
				t.Fatalf("settings %q do not set it", f.Key)
			}
			// Merging over and under defaults, and equality.
			if m := mergeSettings(Settings{}, s); !f.IsSet(&m) || !settingsEqual(m, s) {
				t.Errorf("a rule's value is lost over empty defaults: %+v", m)
			}
			if m := mergeSettings(s, Settings{}); !f.IsSet(&m) || !settingsEqual(m, s) {
				t.Errorf("a default is lost under a rule that does not set it: %+v", m)
			}
			if settingsEqual(s, Settings{}) {
				t.Errorf("settingsEqual does not see it")
			}
			rules, err := CompileRules(SkillsConfig{Defaults: s, Static: []Static{{Name: "X"}}})
			if err != nil {
				t.Fatal(err)
			}
			st, err := rules.Desired(&hrsource.Snapshot{Schema: hrsource.NewSchema([]string{"id"}, nil)})
			if err != nil {
				t.Fatal(err)
			}
			ds := st.Skills
			if len(ds) != 1 || !f.IsSet(&ds[0].Settings) {
				t.Fatalf("desired %+v: the default does not reach the static skill", ds)
			}
			d := ds[0]
			if !slices.Contains(managedFields(&d), f.Key) {
				t.Errorf("managed fields %v lack it", managedFields(&d))
			}

			// An owned skill without the value: an update whose diff has it.
			other := liveperson.Skill{ID: 2, Name: "Other"}
			bare := liveperson.Skill{ID: 1, Name: d.Name}
			in := PlanInput{Desired: ds, Current: []liveperson.Skill{bare, other},
				Registry: []store.OwnedSkill{{SkillID: 1, Name: d.Name, RuleID: d.RuleID, RuleKey: d.Key}}}
			p := BuildPlan(in)
			c := findChange(p, d.Name)
			if c == nil || c.Action != ActionUpdate || !slices.Contains(c.Fields, f.Key) || c.Drift {
				t.Fatalf("plan %+v: want an update of %s, no drift", c, f.Key)
			}
			if f.Equal(c.After, &bare) {
				t.Errorf("the desired skill does not carry it")
			}
			var text bytes.Buffer
			if err := p.RenderText(&text, false); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "      "+f.Key+": ") {
				t.Errorf("the rendered plan does not show it:\n%s", text.String())
			}
			// The written state records it; the skill as written is unchanged.
			written := stateOf(c.After, c.managed)
			if _, ok := written[f.Key]; !ok {
				t.Fatalf("written state %v lacks it", written)
			}
			in.Current[0] = *c.After
			in.Written = map[int64]SkillState{1: written}
			if p := BuildPlan(in); p.Unchanged != 1 || len(p.Changes) != 0 {
				t.Errorf("the skill as written is not unchanged: %+v", p.Changes)
			}
			// Edited in LivePerson: drift naming the field.
			in.Current[0] = bare
			c = findChange(BuildPlan(in), d.Name)
			if c == nil || !c.Drift || !strings.Contains(c.Reason, f.Key) {
				t.Errorf("an edit of %s is no drift: %+v", f.Key, c)
			}
		})
	}
	if n == 0 {
		t.Fatal("no settings in the table")
	}
}

func findChange(p *Plan, name string) *Change {
	for i := range p.Changes {
		if p.Changes[i].Skill == name {
			return &p.Changes[i]
		}
	}
	return nil
}
