package sync

import (
	"bytes"
	"encoding/json"

	"github.com/skillsync/skillsync/liveperson"
)

// SkillState is the set of managed field values skillsync last wrote to an
// owned skill, by field name (name, description, max_wait_time,
// transfer_to as sorted ids, ...), each as JSON.
type SkillState map[string]json.RawMessage

// managedFields lists the fields a desired skill manages.
func managedFields(d *DesiredSkill) []string {
	f := []string{"name"}
	if d.ManageDescription {
		f = append(f, "description")
	}
	s := d.Settings
	add := func(name string, set bool) {
		if set {
			f = append(f, name)
		}
	}
	add("max_wait_time", s.MaxWaitTime != nil)
	add("skill_order", s.SkillOrder != nil)
	add("can_transfer", s.CanTransfer != nil)
	add("transfer_to", s.TransferTo != nil)
	add("wrap_up_time", s.WrapUpTime != nil)
	add("sla_default_response_time", s.SLADefaultResponseTime != nil)
	add("sla_urgent_response_time", s.SLAUrgentResponseTime != nil)
	add("sla_first_time_response_time", s.SLAFirstTimeResponseTime != nil)
	add("lob_ids", s.LobIDs != nil)
	add("working_hours_id", s.WorkingHoursID != nil)
	return f
}

// fieldValue returns the value of a managed field of s, comparable as JSON.
func fieldValue(s *liveperson.Skill, field string) any {
	switch field {
	case "name":
		return s.Name
	case "description":
		return s.Description
	case "max_wait_time":
		return s.MaxWaitTime
	case "skill_order":
		return s.SkillOrder
	case "can_transfer":
		return s.CanTransfer
	case "transfer_to":
		return idsAny(s.SkillTransferList)
	case "wrap_up_time":
		return s.WrapUpTime
	case "sla_default_response_time":
		return s.SLADefaultResponseTime
	case "sla_urgent_response_time":
		return s.SLAUrgentResponseTime
	case "sla_first_time_response_time":
		return s.SLAFirstTimeResponseTime
	case "lob_ids":
		return idsAny(s.LobIDs)
	case "working_hours_id":
		return s.WorkingHoursID
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
		if !bytes.Equal(b, w) {
			out = append(out, f)
		}
	}
	return out
}

func (st SkillState) equal(o SkillState) bool {
	if len(st) != len(o) {
		return false
	}
	for k, v := range st {
		if !bytes.Equal(v, o[k]) {
			return false
		}
	}
	return true
}
