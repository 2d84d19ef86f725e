package console

import (
	"encoding/json"
	"fmt"
	"strings"
)

// planFormatVersion is the format_version of the JSON plan this console
// reads (the contract of `skillsync plan --format json`, which the runner
// stores with every run).
const planFormatVersion = 1

// The JSON plan, as far as the pages show it. The console reads the
// published format rather than the engine's types: it depends on the
// contract, not on the package that writes it.
type (
	storedPlan struct {
		FormatVersion int             `json:"format_version"`
		Policy        string          `json:"policy"`
		Summary       planSummary     `json:"summary"`
		Changes       []planChange    `json:"changes"`
		Assignments   *planAssignment `json:"assignments"`
		Problems      []planProblem   `json:"problems"`
		Warnings      []string        `json:"warnings"`
	}
	planSummary struct {
		Create            int `json:"create"`
		Update            int `json:"update"`
		Delete            int `json:"delete"`
		PendingDelete     int `json:"pending_delete"`
		Unchanged         int `json:"unchanged"`
		UnmanagedConflict int `json:"unmanaged_conflict"`
		Assign            int `json:"assign"`
		Unassign          int `json:"unassign"`
	}
	planChange struct {
		Action      string      `json:"action"`
		Skill       string      `json:"skill"`
		SkillID     int64       `json:"skill_id"`
		Fields      []string    `json:"fields"`
		Diff        []fieldDiff `json:"diff"`
		Rule        string      `json:"rule"`
		Key         string      `json:"key"`
		Members     int         `json:"members"`
		MemberIDs   []string    `json:"member_ids"`
		RenamedFrom string      `json:"renamed_from"`
		Drift       bool        `json:"drift"`
		Adopt       bool        `json:"adopt"`
		Recreate    bool        `json:"recreate"`
		Reason      string      `json:"reason"`
		RenameTo    string      `json:"rename_to"`
	}
	fieldDiff struct {
		Field  string `json:"field"`
		Before any    `json:"before"`
		After  any    `json:"after"`
	}
	planAssignment struct {
		Match            string     `json:"match"`
		Matched          int        `json:"matched_users"`
		Considered       int        `json:"users_considered"`
		Users            []planUser `json:"users"`
		UnmatchedRecords int        `json:"unmatched_records"`
		HeldBack         int        `json:"held_back"`
	}
	planUser struct {
		UserID       int64      `json:"user_id"`
		Login        string     `json:"login_name"`
		Email        string     `json:"email"`
		RecordID     string     `json:"record_id"`
		Assign       []skillRef `json:"assign"`
		Unassign     []skillRef `json:"unassign"`
		HeldUnassign []skillRef `json:"held_unassign"`
	}
	skillRef struct {
		Skill string `json:"skill"`
	}
	planProblem struct {
		RecordID string `json:"record_id"`
		Origin   string `json:"origin"`
		Rule     string `json:"rule"`
		Message  string `json:"message"`
	}
)

// String says which record or rule, as `skillsync plan` does.
func (p planProblem) String() string {
	where := "record " + p.RecordID
	if p.Origin != "" {
		where += " (" + p.Origin + ")"
	}
	if p.RecordID == "" {
		where = "rule " + p.Rule
	}
	return fmt.Sprintf("%s, rule %s: %s", where, p.Rule, p.Message)
}

// planView is a stored plan laid out for its page: the changes grouped as
// `skillsync plan` prints them.
type planView struct {
	Policy      string
	Summary     planSummary
	Writes      []changeView // + ~ -
	Pending     []changeView
	Conflicts   []changeView
	Assignments *planAssignment
	Problems    []planProblem
	Warnings    []string
}

// changeView is one change with its symbol and provenance.
type changeView struct {
	planChange
	Symbol     string // + ~ - ? !
	Class      string // create, update, delete, pending, conflict
	Tags       []string
	Provenance string
}

func decodePlan(raw json.RawMessage) (*planView, error) {
	var p storedPlan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("the stored plan cannot be read: %v", err)
	}
	if p.FormatVersion != planFormatVersion {
		return nil, fmt.Errorf("the stored plan has format_version %d; this console reads %d", p.FormatVersion, planFormatVersion)
	}
	v := &planView{Policy: p.Policy, Summary: p.Summary, Assignments: p.Assignments, Problems: p.Problems, Warnings: p.Warnings}
	for _, c := range p.Changes {
		cv := changeView{planChange: c, Provenance: provenance(c)}
		switch c.Action {
		case "create":
			cv.Symbol, cv.Class = "+", "create"
			if c.Recreate {
				cv.Tags = append(cv.Tags, "recreate")
			}
			v.Writes = append(v.Writes, cv)
		case "update":
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
		case "delete":
			cv.Symbol, cv.Class = "-", "delete"
			v.Writes = append(v.Writes, cv)
		case "pending_delete":
			cv.Symbol, cv.Class = "?", "pending"
			v.Pending = append(v.Pending, cv)
		case "unmanaged_conflict":
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
func provenance(c planChange) string {
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
