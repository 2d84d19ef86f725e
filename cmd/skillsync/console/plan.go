package console

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/skillsync/skillsync/sync"
)

// planView is a stored plan laid out for its page: the changes grouped as
// `skillsync plan` prints them.
type planView struct {
	Policy      string
	Summary     sync.Summary
	Writes      []changeView // + ~ -
	Pending     []changeView
	Conflicts   []changeView
	Assignments *sync.AssignmentPlan
	Problems    []sync.RecordProblem
	Warnings    []string
}

// changeView is one change with its symbol and provenance.
type changeView struct {
	sync.Change
	Symbol     string // + ~ - ? !
	Class      string // create, update, delete, pending, conflict
	Tags       []string
	Provenance string
}

// storedPlan is the JSON plan (format_version 1) as the runner stores it.
type storedPlan struct {
	FormatVersion int                  `json:"format_version"`
	Policy        string               `json:"policy"`
	Summary       sync.Summary         `json:"summary"`
	Changes       []sync.Change        `json:"changes"`
	Assignments   *sync.AssignmentPlan `json:"assignments"`
	Problems      []sync.RecordProblem `json:"problems"`
	Warnings      []string             `json:"warnings"`
}

func decodePlan(raw json.RawMessage) (*planView, error) {
	var p storedPlan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("the stored plan cannot be read: %v", err)
	}
	if p.FormatVersion != sync.PlanFormatVersion {
		return nil, fmt.Errorf("the stored plan has format_version %d; this console reads %d", p.FormatVersion, sync.PlanFormatVersion)
	}
	v := &planView{Policy: p.Policy, Summary: p.Summary, Assignments: p.Assignments, Problems: p.Problems, Warnings: p.Warnings}
	for _, c := range p.Changes {
		cv := changeView{Change: c, Provenance: provenance(c)}
		switch c.Action {
		case sync.ActionCreate:
			cv.Symbol, cv.Class = "+", "create"
			if c.Recreate {
				cv.Tags = append(cv.Tags, "recreate")
			}
			v.Writes = append(v.Writes, cv)
		case sync.ActionUpdate:
			cv.Symbol, cv.Class = "~", "update"
			if c.RenamedFrom != "" {
				cv.Tags = append(cv.Tags, "rename from "+c.RenamedFrom)
			}
			if c.Drift {
				cv.Tags = append(cv.Tags, "drift")
			}
			if c.Adopt {
				cv.Tags = append(cv.Tags, "adopt")
			}
			v.Writes = append(v.Writes, cv)
		case sync.ActionDelete:
			cv.Symbol, cv.Class = "-", "delete"
			v.Writes = append(v.Writes, cv)
		case sync.ActionPendingDelete:
			cv.Symbol, cv.Class = "?", "pending"
			v.Pending = append(v.Pending, cv)
		case sync.ActionUnmanagedConflict:
			cv.Symbol, cv.Class = "!", "conflict"
			v.Conflicts = append(v.Conflicts, cv)
		default:
			cv.Symbol, cv.Class = "·", "other"
			v.Writes = append(v.Writes, cv)
		}
	}
	return v, nil
}

// provenance says where a change comes from, as `skillsync plan` does.
func provenance(c sync.Change) string {
	var parts []string
	if c.SkillID != 0 {
		parts = append(parts, fmt.Sprintf("id %d", c.SkillID))
	}
	switch {
	case strings.HasPrefix(c.Rule, "static:"):
		parts = append(parts, "static skill")
	case c.Rule != "":
		parts = append(parts, "rule "+c.Rule)
	}
	if c.Key != "" {
		parts = append(parts, "key "+c.Key)
	}
	if c.Members > 0 {
		m := fmt.Sprintf("%d members", c.Members)
		if c.Members == 1 {
			m = "1 member"
		}
		if len(c.MemberIDs) > 0 {
			m += ": " + strings.Join(c.MemberIDs, ", ")
			if c.Members > len(c.MemberIDs) {
				m += ", …"
			}
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, ", ")
}

// valueText shows a field's value as the text plan does.
func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		return fmt.Sprintf("%q", v)
	case []any:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = valueText(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case float64:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
