package sync

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/skillsync/skillsync/hrsource"
)

// PlanFormatVersion is the format_version of the JSON plan.
const PlanFormatVersion = 1

type planJSON struct {
	FormatVersion int             `json:"format_version"`
	RunID         int64           `json:"run_id,omitempty"`
	Policy        Policy          `json:"policy"`
	Summary       Summary         `json:"summary"`
	Changes       []Change        `json:"changes"`
	Assignments   *AssignmentPlan `json:"assignments,omitempty"`
	Problems      []RecordProblem `json:"problems,omitempty"`
	Warnings      []string        `json:"warnings,omitempty"`
	// UnconfirmedCreates: creates of earlier runs that never got their
	// answer, and what this plan does about each.
	UnconfirmedCreates []CreateResolution `json:"unconfirmed_creates,omitempty"`
	// AsOf and Upcoming: effective dating (only with dated records).
	AsOf       hrsource.Date `json:"as_of,omitzero"`
	Precreated []string      `json:"precreated,omitempty"`
	Upcoming   *[]Upcoming   `json:"upcoming,omitempty"`
}

// MarshalJSON renders the plan in its versioned JSON form.
func (p *Plan) MarshalJSON() ([]byte, error) {
	changes := make([]Change, 0, len(p.Changes))
	for _, c := range p.Changes {
		if c.freesName {
			continue // shown as the delete's rename_to
		}
		if c.Fields == nil {
			c.Fields = []string{} // always a list in the contract
		}
		changes = append(changes, c)
	}
	out := planJSON{
		FormatVersion: PlanFormatVersion, RunID: p.RunID, Policy: p.Policy, Summary: p.Summary(),
		Changes: changes, Assignments: p.Assignments, Problems: p.Problems, Warnings: p.Warnings,
		UnconfirmedCreates: p.Unconfirmed,
	}
	if d := p.Dated; d != nil {
		out.AsOf, out.Precreated, out.Upcoming = d.AsOf, d.Precreated, &d.Upcoming
	}
	return json.Marshal(out)
}

// RenderJSON writes the plan as indented JSON (format_version 1).
func (p *Plan) RenderJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

// RenderText writes the plan the way `terraform plan` shows one: a symbol
// per change (+ create, ~ update, - delete), changed fields as
// `field: old → new`, pending deletes and conflicts listed, and a summary
// line. color adds ANSI colours (only for a terminal).
func (p *Plan) RenderText(w io.Writer, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	sum := p.Summary()
	section := func(title string) {
		b.WriteString("\n" + paint(ansiBold, title) + "\n")
	}
	var writes, pending, conflicts []Change
	for _, c := range p.Changes {
		switch c.Action {
		case ActionPendingDelete:
			pending = append(pending, c)
		case ActionUnmanagedConflict:
			conflicts = append(conflicts, c)
		case ActionUpdate:
			if !c.freesName { // shown with its delete
				writes = append(writes, c)
			}
		default:
			writes = append(writes, c)
		}
	}
	if len(writes) > 0 {
		section("Skills:")
	}
	for _, c := range writes {
		switch c.Action {
		case ActionCreate:
			head := paint(ansiGreen, "  + "+c.Skill)
			if c.Recreate {
				head += paint(ansiDim, "  (recreate)")
			}
			fmt.Fprintf(&b, "%s  %s\n", head, paint(ansiDim, provenanceText(c)))
			if c.Reason != "" {
				fmt.Fprintf(&b, "      # %s\n", c.Reason)
			}
			for _, d := range c.Diff {
				fmt.Fprintf(&b, "      %s: %s\n", d.Field, valueText(d.After))
			}
		case ActionUpdate:
			title := c.Skill
			if c.RenamedFrom != "" {
				title = c.RenamedFrom + " → " + c.Skill
			}
			var tags []string
			if c.RenamedFrom != "" {
				tags = append(tags, "rename")
			}
			if c.Drift {
				tags = append(tags, "drift")
			}
			if c.Adopt {
				tags = append(tags, "adopt")
			}
			head := paint(ansiYellow, "  ~ "+title)
			if len(tags) > 0 {
				head += paint(ansiYellow, "  ("+strings.Join(tags, ", ")+")")
			}
			fmt.Fprintf(&b, "%s  %s\n", head, paint(ansiDim, fmt.Sprintf("id %d, %s", c.SkillID, provenanceText(c))))
			if c.Drift || c.Adopt {
				fmt.Fprintf(&b, "      # %s\n", c.Reason)
			}
			for _, d := range c.Diff {
				fmt.Fprintf(&b, "      %s: %s → %s\n", d.Field, valueText(d.Before), valueText(d.After))
			}
		case ActionDelete:
			fmt.Fprintf(&b, "%s  %s\n", paint(ansiRed, "  - "+c.Skill), paint(ansiDim, fmt.Sprintf("id %d, rule %s", c.SkillID, c.Rule)))
			fmt.Fprintf(&b, "      # %s\n", c.Reason)
			if c.RenameTo != "" {
				fmt.Fprintf(&b, "      # renamed first to %q: LivePerson keeps the names of deleted skills, and this frees the name\n", c.RenameTo)
			}
		}
	}
	if len(pending) > 0 {
		section("Pending deletes (delete grace):")
		for _, c := range pending {
			fmt.Fprintf(&b, "  %s  %s\n", paint(ansiCyan, "? "+c.Skill), paint(ansiDim, fmt.Sprintf("id %d, rule %s", c.SkillID, c.Rule)))
			fmt.Fprintf(&b, "      # %s\n", c.Reason)
		}
	}
	if len(conflicts) > 0 {
		section("Unmanaged conflicts (not changed):")
		for _, c := range conflicts {
			fmt.Fprintf(&b, "  %s  %s\n", paint(ansiRed, "! "+c.Skill), paint(ansiDim, provenanceText(c)))
			fmt.Fprintf(&b, "      # %s\n", c.Reason)
		}
	}
	if len(p.Unconfirmed) > 0 {
		section("Creates of earlier runs that never got LivePerson's answer:")
		for _, r := range p.Unconfirmed {
			mark := paint(ansiDim, "· "+r.Skill)
			if r.Resolution == ResolutionTakenOver {
				mark = paint(ansiYellow, "~ "+r.Skill)
			}
			fmt.Fprintf(&b, "  %s  %s\n", mark, paint(ansiDim, fmt.Sprintf("run %d, %s", r.RunID, strings.ReplaceAll(r.Resolution, "_", " "))))
			fmt.Fprintf(&b, "      # %s\n", r.Note)
		}
	}
	if a := p.Assignments; a != nil {
		renderAssignments(&b, a, paint, section)
	}
	if len(p.Problems) > 0 {
		section("Records skipped by rules:")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "  %s\n", pr)
		}
	}
	if p.Dated != nil {
		renderUpcoming(&b, p.Dated, paint, section)
	}
	if len(p.Warnings) > 0 {
		section("Warnings:")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	// A takeover-only or bookkeeping-only plan still lists its updates:
	// "No changes" never stands next to a count that says otherwise.
	if !p.HasChanges() && sum.Create+sum.Update+sum.Delete+sum.Assign+sum.Unassign == 0 && len(pending) == 0 && len(conflicts) == 0 {
		fmt.Fprintf(&b, "\nNo changes. %d skills up to date.\n", sum.Unchanged)
	}
	line := fmt.Sprintf("Plan: %d to create, %d to update, %d to delete, %d pending.", sum.Create, sum.Update, sum.Delete, sum.PendingDelete)
	if p.Assignments != nil {
		line += fmt.Sprintf(" Assignments: %d to assign, %d to unassign.", sum.Assign, sum.Unassign)
	}
	if sum.UnmanagedConflict > 0 {
		line += fmt.Sprintf(" %d unmanaged conflicts.", sum.UnmanagedConflict)
	}
	b.WriteString("\n" + paint(ansiBold, line) + "\n")
	_, err := io.WriteString(w, strings.TrimPrefix(b.String(), "\n"))
	return err
}

func provenanceText(c Change) string {
	if strings.HasPrefix(c.Rule, staticRulePrefix) {
		return "static skill"
	}
	s := "rule " + c.Rule
	if c.Members > 0 {
		s += fmt.Sprintf(", %d %s", c.Members, plural(c.Members, "member", "members"))
		if len(c.MemberIDs) > 0 {
			s += ": " + strings.Join(c.MemberIDs, ", ")
			if c.Members > len(c.MemberIDs) {
				s += ", …"
			}
		}
	}
	return s
}

func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []int64:
		return fmt.Sprint(v)
	case []any: // a list read back from a stored plan (ParsePlan)
		q := make([]string, len(v))
		for i, x := range v {
			q[i] = valueText(x)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func renderAssignments(b *strings.Builder, a *AssignmentPlan, paint func(code, s string) string, section func(string)) {
	section(fmt.Sprintf("Assignments (%d of %d users matched by %s):", a.Matched, a.Considered, a.Match))
	for _, u := range a.Users {
		who := cmp.Or(u.Login, u.Email)
		where := fmt.Sprintf("id %d, record %s", u.UserID, u.RecordID)
		switch {
		case u.RecordID == "":
			where = fmt.Sprintf("id %d, no HR record", u.UserID)
		case !u.Active:
			where += ", inactive"
		}
		fmt.Fprintf(b, "  %s  %s\n", paint(ansiYellow, "~ user "+who), paint(ansiDim, where))
		for _, r := range u.Assign {
			fmt.Fprintf(b, "      %s  %s\n", paint(ansiGreen, "+"+r.Skill), paint(ansiDim, "rule "+r.Rule))
		}
		for _, r := range u.Unassign {
			fmt.Fprintf(b, "      %s  %s\n", paint(ansiRed, "-"+r.Skill), paint(ansiDim, "rule "+r.Rule))
		}
		for _, r := range u.HeldUnassign {
			fmt.Fprintf(b, "      %s  %s\n", paint(ansiCyan, "-"+r.Skill), paint(ansiDim, "held back (assignments.max_changes_percent)"))
		}
	}
	for _, n := range a.Notes {
		fmt.Fprintf(b, "  # %s\n", n)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
