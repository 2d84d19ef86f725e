package sync

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// SkillState is the set of managed field values skillsync last wrote to an
// owned skill, by field name (name, description, max_wait_time,
// transfer_to as sorted ids, ...), each as JSON. It is the store's type, so
// that *store.Store is a RunStore without importing this package.
type SkillState = store.SkillState

// managedFields lists the fields a desired skill manages: its name, its
// description when the rule manages it, and every setting it sets, by
// their keys in the table of skill fields.
func managedFields(d *DesiredSkill) []string {
	f := []string{"name"}
	if d.ManageDescription {
		f = append(f, "description")
	}
	fields := liveperson.SkillFields()
	for i := range fields {
		if fields[i].IsSet(&d.Settings) {
			f = append(f, fields[i].Key)
		}
	}
	return f
}

// fieldValue returns the value of a field of s by key, comparable as JSON
// (nil for a key that names no field).
func fieldValue(s *liveperson.Skill, field string) any {
	if f, ok := liveperson.SkillFieldByKey(field); ok {
		return f.Value(s)
	}
	return nil
}

// stateOf captures the given fields of s.
func stateOf(s *liveperson.Skill, fields []string) SkillState {
	st := make(SkillState, len(fields))
	for _, f := range fields {
		b, err := json.Marshal(fieldValue(s, f))
		if err != nil {
			continue // typed values always marshal
		}
		st[f] = b
	}
	return st
}

// editedFields returns the fields whose value in s differs from what
// skillsync last wrote (fields it did not write are not compared).
func editedFields(s *liveperson.Skill, written SkillState, fields []string) []string {
	var out []string
	for _, f := range fields {
		w, ok := written[f]
		if !ok {
			continue
		}
		b, _ := json.Marshal(fieldValue(s, f))
		if !sameJSON(b, w) {
			out = append(out, f)
		}
	}
	return out
}

// sameState reports whether two states hold the same fields with the same
// values.
func sameState(a, b SkillState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !sameJSON(v, w) {
			return false
		}
	}
	return true
}

// sameJSON compares two JSON values by meaning: a store may give back what
// it was given re-encoded (PostgreSQL's jsonb spaces arrays and unescapes
// strings), and that is no edit.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
