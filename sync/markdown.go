package sync

import (
	"cmp"
	"fmt"
	"io"
	"strings"
)

// RenderMarkdown writes the plan as GitHub-flavoured Markdown, for a pull
// request comment or a chat message: a table of the counts, then the
// changes grouped by action (create, update, delete, pending delete,
// unmanaged conflict), each change's provenance (rule, registry key,
// members, reason) folded in a <details> block, then the upcoming changes
// of dated records, the assignments, skipped records and warnings. Every
// text from HR or LivePerson is escaped: a skill name cannot inject
// Markdown or HTML.
func (p *Plan) RenderMarkdown(w io.Writer) error {
	var b strings.Builder
	sum := p.Summary()
	b.WriteString("| create | update | delete | pending delete | unchanged | unmanaged conflict |")
	row := fmt.Sprintf("| %d | %d | %d | %d | %d | %d |", sum.Create, sum.Update, sum.Delete, sum.PendingDelete, sum.Unchanged, sum.UnmanagedConflict)
	sep := "|---:|---:|---:|---:|---:|---:|"
	if p.Assignments != nil {
		b.WriteString(" assign | unassign |")
		row += fmt.Sprintf(" %d | %d |", sum.Assign, sum.Unassign)
		sep += "---:|---:|"
	}
	b.WriteString("\n" + sep + "\n" + row + "\n")

	groups := []struct {
		action Action
		title  string
	}{
		{ActionCreate, "Create"},
		{ActionUpdate, "Update"},
		{ActionDelete, "Delete"},
		{ActionPendingDelete, "Pending delete (delete grace)"},
		{ActionUnmanagedConflict, "Unmanaged conflict (not changed)"},
	}
	for _, g := range groups {
		var in []Change
		for _, c := range p.Changes {
			if c.Action == g.action && !c.freesName {
				in = append(in, c)
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s (%d)\n\n", g.title, len(in))
		for _, c := range in {
			markdownChange(&b, c)
		}
	}
	if d := p.Dated; d != nil && len(d.Upcoming)+len(d.Precreated) > 0 {
		fmt.Fprintf(&b, "\n### Upcoming (as of %s)\n\n| date | change | skill | rule |\n|---|---|---|---|\n", d.AsOf)
		for _, name := range d.Precreated {
			fmt.Fprintf(&b, "| %s | created ahead of its start | %s | |\n", d.AsOf, md(name))
		}
		for _, u := range d.Upcoming {
			what := "to become pending deletion"
			if u.Action == UpcomingCreate {
				what = fmt.Sprintf("to be created (%d %s)", u.Members, plural(u.Members, "member", "members"))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", u.Date, what, md(u.Skill), md(u.Rule))
		}
	}
	if a := p.Assignments; a != nil && len(a.Users) > 0 {
		fmt.Fprintf(&b, "\n### Assignments (%d of %d users matched by %s)\n\n", a.Matched, a.Considered, md(a.Match))
		b.WriteString("| user | record | assign | unassign | held back |\n|---|---|---|---|---|\n")
		for _, u := range a.Users {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", md(cmp.Or(u.Login, u.Email)), md(cmp.Or(u.RecordID, "none")),
				skillRefs(u.Assign), skillRefs(u.Unassign), skillRefs(u.HeldUnassign))
		}
		for _, n := range a.Notes {
			fmt.Fprintf(&b, "\n> %s\n", md(n))
		}
	}
	if len(p.Problems) > 0 {
		b.WriteString("\n### Records skipped by rules\n\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "- %s\n", md(pr.String()))
		}
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n### Warnings\n\n")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "- %s\n", md(w))
		}
	}
	if sum.Create+sum.Update+sum.Delete+sum.PendingDelete+sum.UnmanagedConflict+sum.Assign+sum.Unassign == 0 {
		fmt.Fprintf(&b, "\nNo changes: %d skills up to date.\n", sum.Unchanged)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownChange writes one change as a list item: the skill, what
// changes, and its provenance folded.
func markdownChange(b *strings.Builder, c Change) {
	title := "**" + md(c.Skill) + "**"
	if c.RenamedFrom != "" {
		title = "**" + md(c.RenamedFrom) + "** → **" + md(c.Skill) + "**"
	}
	var tags []string
	for _, t := range []struct {
		on  bool
		tag string
	}{{c.RenamedFrom != "", "rename"}, {c.Drift, "drift"}, {c.Adopt, "adopt"}, {c.Recreate, "recreate"}} {
		if t.on {
			tags = append(tags, t.tag)
		}
	}
	if len(tags) > 0 {
		title += " (" + strings.Join(tags, ", ") + ")"
	}
	fmt.Fprintf(b, "- %s\n", title)
	for _, d := range c.Diff {
		if c.Action == ActionCreate {
			fmt.Fprintf(b, "  - %s: %s\n", md(d.Field), md(valueText(d.After)))
		} else {
			fmt.Fprintf(b, "  - %s: %s → %s\n", md(d.Field), md(valueText(d.Before)), md(valueText(d.After)))
		}
	}
	var prov []string
	if c.SkillID != 0 {
		prov = append(prov, fmt.Sprintf("LivePerson skill id %d", c.SkillID))
	}
	if c.Rule != "" {
		prov = append(prov, md(provenanceText(c)))
	}
	if c.Key != "" {
		prov = append(prov, "registry key "+md(c.Key))
	}
	if c.Reason != "" {
		prov = append(prov, md(c.Reason))
	}
	if c.RenameTo != "" {
		prov = append(prov, "renamed first to "+md(c.RenameTo)+" to free its name (LivePerson keeps the names of deleted skills)")
	}
	if len(prov) == 0 {
		return
	}
	b.WriteString("  <details><summary>provenance</summary>\n\n")
	for _, s := range prov {
		fmt.Fprintf(b, "  - %s\n", s)
	}
	b.WriteString("\n  </details>\n")
}

func skillRefs(refs []SkillRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = md(r.Skill)
	}
	return strings.Join(names, ", ")
}

// mdEscaper escapes what Markdown or HTML would read as markup.
var mdEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "#", `\#`, "~", `\~`,
	"\n", " ", "\r", " ",
)

// md escapes s for a Markdown text (also inside a table cell).
func md(s string) string { return mdEscaper.Replace(s) }

// EscapeMarkdown escapes s for a Markdown text, as RenderMarkdown escapes
// the texts of a plan.
func EscapeMarkdown(s string) string { return md(s) }
