package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store"
)

// TestRenderMarkdown: counts table, changes grouped by action in a fixed
// order, provenance folded, and every text escaped so that a skill name
// cannot inject Markdown or HTML.
func TestRenderMarkdown(t *testing.T) {
	t.Parallel()
	p := &Plan{Unchanged: 7, Changes: []Change{
		{Action: ActionDelete, Skill: "Old", SkillID: 9, Rule: "team", Reason: "no rule has produced it since run 3"},
		{Action: ActionCreate, Skill: "<img src=x onerror=alert(1)> | *bold* [link](http://x)", Rule: "team", Members: 2, MemberIDs: []string{"1", "2"},
			Diff: []FieldDiff{{Field: "max_wait_time", After: 120}}},
		{Action: ActionUpdate, Skill: "Sales", RenamedFrom: "Sale", SkillID: 4, Rule: "team", Drift: true,
			Diff: []FieldDiff{{Field: "description", Before: "a", After: "b"}}},
		{Action: ActionPendingDelete, Skill: "Gone", SkillID: 5, Rule: "team", Reason: "pending 1/2"},
	}}
	var b strings.Builder
	if err := p.RenderMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| create | update | delete | pending delete | unchanged | unmanaged conflict |\n|---:|---:|---:|---:|---:|---:|\n| 1 | 1 | 1 | 1 | 7 | 0 |\n",
		"### Create (1)", "### Update (1)", "### Delete (1)", "### Pending delete (delete grace) (1)",
		"- **&lt;img src=x onerror=alert(1)&gt; \\| \\*bold\\* \\[link\\](http://x)**",
		"  - max\\_wait\\_time: 120\n",
		"- **Sale** → **Sales** (rename, drift)\n  - description: \"a\" → \"b\"",
		"<details><summary>provenance</summary>", "  - rule team, 2 members: 1, 2\n", "  - no rule has produced it since run 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<img") {
		t.Errorf("a skill name injected HTML:\n%s", out)
	}
	order := []string{"### Create", "### Update", "### Delete", "### Pending delete"}
	for i := 1; i < len(order); i++ {
		if strings.Index(out, order[i-1]) > strings.Index(out, order[i]) {
			t.Errorf("%s after %s", order[i-1], order[i])
		}
	}
}

// TestParsePlanRendersAsStored: a plan read back from its stored JSON
// renders as the plan did (runs show prints what plan printed).
func TestParsePlanRendersAsStored(t *testing.T) {
	t.Parallel()
	e := setup(t, baseHR, deptConfig())
	r := e.runner(e.cfg)
	e.run(r, store.ModeApply)
	cfg := deptConfig()
	cfg.Skills.Defaults.MaxWaitTime = ptr(60)
	cfg.Skills.Rules = cfg.Skills.Rules[:1] // the language skills go
	res := e.run(e.runner(cfg), store.ModePlan)
	run, _, err := e.store.GetRun(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParsePlan(run.Plan)
	if err != nil {
		t.Fatal(err)
	}
	var want, got, wantMD, gotMD strings.Builder
	if err := res.Plan.RenderText(&want, false); err != nil {
		t.Fatal(err)
	}
	if err := parsed.RenderText(&got, false); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("stored plan renders\n%s\nthe plan rendered\n%s", got.String(), want.String())
	}
	_ = res.Plan.RenderMarkdown(&wantMD)
	_ = parsed.RenderMarkdown(&gotMD)
	if gotMD.String() != wantMD.String() {
		t.Errorf("stored plan in Markdown\n%s\nthe plan\n%s", gotMD.String(), wantMD.String())
	}
	if !strings.Contains(want.String(), "max_wait_time: 120 → 60") || !strings.Contains(want.String(), "pending") {
		t.Errorf("the test's plan lacks an update or a pending delete:\n%s", want.String())
	}
}

// TestRenderMarkdownUpcoming: the upcoming changes of dated records are a
// table, with the skills created ahead of their start.
func TestRenderMarkdownUpcoming(t *testing.T) {
	t.Parallel()
	day, err := hrsource.ParseDay("2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{Dated: &Dated{AsOf: day, Precreated: []string{"New | team"}, Upcoming: []Upcoming{
		{Date: day.AddDays(3), Action: UpcomingCreate, Skill: "Sales", Rule: "dept", Members: 2},
		{Date: day.AddDays(5), Action: UpcomingPendingDelete, Skill: "Old", Rule: "dept"},
	}}}
	var b strings.Builder
	if err := p.RenderMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Upcoming (as of 2026-12-02)", "| 2026-12-02 | created ahead of its start | New \\| team | |",
		"| 2026-12-05 | to be created (2 members) | Sales | dept |", "| 2026-12-07 | to become pending deletion | Old | dept |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}
