package sync

import (
	"encoding/json"
	"fmt"
)

// ParsePlan reads a plan from its JSON form (as a run stores it, or
// `plan --format json` prints it) for rendering: `runs show` prints a
// stored plan as `plan` printed it. The result renders (text, JSON,
// Markdown) but cannot be applied: the skill objects an apply writes are
// not part of the JSON (an approval plans again, and compares).
func ParsePlan(b []byte) (*Plan, error) {
	var doc planJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if doc.FormatVersion != PlanFormatVersion {
		return nil, fmt.Errorf("read plan: format_version %d, this skillsync reads %d", doc.FormatVersion, PlanFormatVersion)
	}
	p := &Plan{RunID: doc.RunID, Policy: doc.Policy, Changes: doc.Changes, Unchanged: doc.Summary.Unchanged,
		Assignments: doc.Assignments, Problems: doc.Problems, Warnings: doc.Warnings, Unconfirmed: doc.UnconfirmedCreates}
	if doc.Upcoming != nil {
		p.Dated = &Dated{AsOf: doc.AsOf, Precreated: doc.Precreated, Upcoming: *doc.Upcoming}
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		// A pending delete held without advancing its grace says so in
		// its reason only; it is no change to count.
		if c.Action == ActionPendingDelete && c.MissingRuns == 0 {
			c.graceHeld = true
		}
	}
	return p, nil
}
