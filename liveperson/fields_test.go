package liveperson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sampleValue returns a non-zero value of type t, distinct per seed.
func sampleValue(t *testing.T, typ reflect.Type, seed int) reflect.Value {
	t.Helper()
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(100 + seed))
	case reflect.String:
		v.SetString("value " + string(rune('a'+seed)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(typ.Elem()))
		v.Elem().Set(sampleValue(t, typ.Elem(), seed))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(typ, 2, 2))
		v.Index(0).Set(sampleValue(t, typ.Elem(), seed+1))
		v.Index(1).Set(sampleValue(t, typ.Elem(), seed))
	default:
		t.Fatalf("no sample value of type %s: teach the test and the table of skill fields about it", typ)
	}
	return v
}

// TestSkillFieldsCoverSkill fails when a field of Skill has no entry in the
// table of skill fields: set alone, it must go out on the wire under one
// table entry's name, come back from the decoder, and be seen by exactly
// that entry's Value and Equal.
func TestSkillFieldsCoverSkill(t *testing.T) {
	typ := reflect.TypeFor[Skill]()
	covered := map[string]string{} // wire name → Go field
	for i := range typ.NumField() {
		sf := typ.Field(i)
		if sf.Name == "Extra" {
			continue
		}
		var sk, zero Skill
		if sf.Name != "ID" {
			sk.ID, zero.ID = 1, 1 // so that deleted is written
		}
		reflect.ValueOf(&sk).Elem().Field(i).Set(sampleValue(t, sf.Type, i))
		// Exactly one entry tells the two apart.
		var differ []string
		for j := range skillFields {
			f := &skillFields[j]
			if !f.Equal(&sk, &zero) {
				differ = append(differ, f.Wire)
				if reflect.DeepEqual(f.Value(&sk), f.Value(&zero)) {
					t.Errorf("Skill.%s: entry %q: Equal sees a change that Value does not show", sf.Name, f.Key)
				}
			}
		}
		if len(differ) != 1 {
			t.Errorf("Skill.%s: %d entries of the table of skill fields see it (%v), want exactly one", sf.Name, len(differ), differ)
			continue
		}
		if other, dup := covered[differ[0]]; dup {
			t.Errorf("Skill.%s and Skill.%s are both entry %q", sf.Name, other, differ[0])
		}
		covered[differ[0]] = sf.Name
		// It goes out under that name and comes back.
		raw, err := json.Marshal(sk)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("Skill.%s: encoded %s: %v", sf.Name, raw, err)
		}
		if _, ok := obj[differ[0]]; !ok {
			t.Errorf("Skill.%s: encoded %s lacks %q", sf.Name, raw, differ[0])
		}
		var back Skill
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("Skill.%s: decode %s: %v", sf.Name, raw, err)
		}
		if !reflect.DeepEqual(back, sk) {
			t.Errorf("Skill.%s: %s decodes to %+v, want %+v", sf.Name, raw, back, sk)
		}
		// A field naming skills gives their ids.
		f := &skillFields[skillFieldIndex[differ[0]]]
		if f.SkillRefs != (len(f.Refs(&sk)) > 0) {
			t.Errorf("Skill.%s: entry %q (SkillRefs %v) Refs = %v", sf.Name, f.Key, f.SkillRefs, f.Refs(&sk))
		}
	}
	if len(covered) != len(skillFields) {
		t.Errorf("%d Skill fields for %d table entries: every entry must be a Skill field", len(covered), len(skillFields))
	}
}

// TestSkillFieldsCoverSettings fails when a SkillSettings field has no
// Setting entry under its YAML key, or an entry's settings functions do
// not act on that field alone.
func TestSkillFieldsCoverSettings(t *testing.T) {
	typ := reflect.TypeFor[SkillSettings]()
	settings := 0
	for _, f := range skillFields {
		if f.Setting {
			settings++
		}
	}
	if typ.NumField() != settings {
		t.Errorf("SkillSettings has %d fields, the table %d settings", typ.NumField(), settings)
	}
	for i := range typ.NumField() {
		sf := typ.Field(i)
		key := sf.Tag.Get("yaml")
		f, ok := SkillFieldByKey(key)
		if !ok || !f.Setting {
			t.Errorf("SkillSettings.%s (yaml %q) is no setting of the table of skill fields", sf.Name, key)
			continue
		}
		var s, empty SkillSettings
		reflect.ValueOf(&s).Elem().Field(i).Set(sampleValue(t, sf.Type, i))
		for j := range skillFields {
			g := &skillFields[j]
			if set := g.IsSet(&s); set != (g == f) {
				t.Errorf("SkillSettings.%s: entry %q IsSet = %v", sf.Name, g.Key, set)
			}
			if same := g.SameSetting(&s, &empty); same != (g != f) {
				t.Errorf("SkillSettings.%s: entry %q SameSetting = %v", sf.Name, g.Key, same)
			}
		}
		var merged SkillSettings
		f.Merge(&merged, &s)
		if !reflect.DeepEqual(merged, s) {
			t.Errorf("SkillSettings.%s: Merge gives %+v, want %+v", sf.Name, merged, s)
		}
		f.Merge(&merged, &empty)
		if !reflect.DeepEqual(merged, s) {
			t.Errorf("SkillSettings.%s: merging an unset value changed it", sf.Name)
		}
		// Applied (or, named, resolved), it changes the skill.
		var sk Skill
		if names := f.SettingNames(&s); names != nil {
			if !f.SkillRefs || f.Kind != KindIDs {
				t.Errorf("SkillSettings.%s: named, but entry %q is no list of skill ids", sf.Name, key)
			}
			f.SetIDs(&sk, []int64{2, 1})
		} else {
			f.Apply(&sk, &s)
		}
		if f.Equal(&sk, &Skill{}) {
			t.Errorf("SkillSettings.%s: applying it leaves the skill unchanged", sf.Name)
		}
		if v, ok := f.SettingInt(&s); ok != (f.Kind == KindInt) || (ok && v == 0) {
			t.Errorf("SkillSettings.%s: SettingInt = %d, %v", sf.Name, v, ok)
		}
	}
}

func TestSkillFieldsUnique(t *testing.T) {
	keys, wires := map[string]bool{}, map[string]bool{}
	for _, f := range skillFields {
		if f.Key == "" || f.Wire == "" || f.Kind == 0 || f.decode == nil || f.encode == nil || f.value == nil || f.equal == nil {
			t.Errorf("entry %q/%q is incomplete", f.Key, f.Wire)
		}
		if f.Setting && (f.isSet == nil || f.merge == nil || f.sameSetting == nil || (f.apply == nil) == (f.names == nil)) {
			t.Errorf("setting %q is incomplete", f.Key)
		}
		if keys[f.Key] || wires[f.Wire] {
			t.Errorf("entry %q/%q is declared twice", f.Key, f.Wire)
		}
		keys[f.Key], wires[f.Wire] = true, true
		if f.SkillRefs != (f.refs != nil) || f.SkillRefs != (f.RefLabel != "") {
			t.Errorf("entry %q: SkillRefs %v without its refs and label", f.Key, f.SkillRefs)
		}
		if strings.ToLower(f.Key) != f.Key {
			t.Errorf("key %q: configuration keys are snake_case", f.Key)
		}
	}
}

// TestSkillFieldsDefaults: the defaults LivePerson documents.
func TestSkillFieldsDefaults(t *testing.T) {
	got := map[string]any{}
	for _, f := range skillFields {
		if f.Default != nil {
			got[f.Wire] = f.Default
		}
	}
	want := map[string]any{"maxWaitTime": 120, "canTransfer": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %v, want %v", got, want)
	}
}
