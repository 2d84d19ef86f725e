package sync

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
)

// DefaultNameMaxLength bounds skill names when skills.name_max_length is
// unset. LivePerson documents no limit; 64 keeps names readable in its UI.
const DefaultNameMaxLength = 64

// staticRulePrefix marks the registry key of a static skill.
const staticRulePrefix = "static:"

// maxProblemsPerRule caps how many record problems one rule reports, so a
// template mistake over 100,000 records yields a readable plan.
const maxProblemsPerRule = 20

// templateFuncs are the string helpers available in name and description
// templates.
var templateFuncs = template.FuncMap{
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": titleCase,
	"trim":  strings.TrimSpace,
	"replace": func(old, new, s string) string {
		return strings.ReplaceAll(s, old, new)
	},
}

// titleCase upper-cases the first letter of every space-separated word
// (strings.Title is deprecated and x/text/cases is more than names need).
func titleCase(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		up := unicode.IsSpace(prev) || prev == '-' || prev == '/'
		prev = r
		if up {
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

// ConfigError lists every problem found in the skills configuration, each
// with its key path (e.g. "skills.rules[1].when").
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "skills config: " + e.Problems[0]
	}
	return fmt.Sprintf("skills config: %d problems:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Rules is the compiled form of the skills configuration: templates parsed
// and expressions compiled once, evaluated against every snapshot.
type Rules struct {
	rules         []*compiledRule
	static        []Static
	defaults      Settings
	nameMaxLength int
	adoptExisting bool
	// columns are the record attributes the rules read (see Columns).
	columns []string
	// envNames are the environment names the rules' templates and
	// expressions read (with every for_each attribute), sorted; envWhole
	// is set when one reads the record as a whole ({{ . }}, $env), and the
	// rules then evaluate every record's full environment.
	envNames []string
	envWhole bool
}

type compiledRule struct {
	index int
	cfg   Rule
	path  string // "skills.rules[1]"

	name, description *template.Template
	// nameFields are the attributes the name template reads, sorted: their
	// values (with the for_each value) form the registry key, so a changed
	// template that reads the same attributes renames the skill in place.
	nameFields []string
	// nameCacheable is false when the name template reads more than plain
	// fields (e.g. "." or variables); the key then falls back to the name.
	nameCacheable bool
	// namePrinted are the actions of the name template outside any if,
	// with or range, with the attributes each reads: one that prints
	// nothing because an attribute is empty would leave a junk name
	// ("/ Manager"), so it is a problem of the record.
	namePrinted []printedAction
	descFields  []string

	when     *vm.Program
	settings Settings
}

// CompileRules checks and compiles the skills configuration. The error, a
// *ConfigError, lists every problem found, not just the first.
func CompileRules(cfg SkillsConfig) (*Rules, error) {
	var problems []string
	add := func(path, format string, args ...any) {
		problems = append(problems, path+": "+fmt.Sprintf(format, args...))
	}
	rs := &Rules{
		static:        cfg.Static,
		defaults:      cfg.Defaults,
		nameMaxLength: cmp.Or(cfg.NameMaxLength, DefaultNameMaxLength),
		adoptExisting: cfg.AdoptExisting,
	}
	if cfg.NameMaxLength < 0 {
		add("skills.name_max_length", "must be positive, got %d", cfg.NameMaxLength)
	}
	checkSettings := func(path string, s Settings) {
		fields := liveperson.SkillFields()
		for i := range fields {
			if v, ok := fields[i].SettingInt(&s); ok && fields[i].NonNegative && v < 0 {
				add(path+"."+fields[i].Key, "must not be negative, got %d", v)
			}
		}
		for _, f := range fields {
			for i, n := range f.SettingNames(&s) {
				if normalizeName(n) == "" {
					add(fmt.Sprintf("%s.%s[%d]", path, f.Key, i), "empty skill name")
				}
			}
		}
	}
	checkSettings("skills.defaults", cfg.Defaults)

	seen := map[string]int{}
	for i, r := range cfg.Rules {
		path := fmt.Sprintf("skills.rules[%d]", i)
		cr := &compiledRule{index: i, cfg: r, path: path, settings: mergeSettings(cfg.Defaults, r.Settings)}
		switch {
		case strings.TrimSpace(r.ID) == "":
			add(path+".id", "required (it keys the ownership registry: keep it stable)")
		case strings.HasPrefix(r.ID, staticRulePrefix):
			add(path+".id", "%q: ids starting with %q are reserved for static skills", r.ID, staticRulePrefix)
		case strings.Contains(r.ID, "|"):
			add(path+".id", "%q: must not contain '|'", r.ID)
		default:
			if j, dup := seen[r.ID]; dup {
				add(path+".id", "%q is also the id of skills.rules[%d]", r.ID, j)
			}
			seen[r.ID] = i
		}
		if strings.TrimSpace(r.Name) == "" {
			add(path+".name", "required")
		} else if t, err := parseTemplate(path+".name", r.Name); err != nil {
			add(path+".name", "%v", err)
		} else {
			cr.name = t
			cr.nameFields, cr.nameCacheable = templateFields(t)
			cr.namePrinted = printedFields(t)
		}
		if r.Description != "" {
			if t, err := parseTemplate(path+".description", r.Description); err != nil {
				add(path+".description", "%v", err)
			} else {
				cr.description = t
				cr.descFields, _ = templateFields(t)
			}
		}
		if strings.TrimSpace(r.When) != "" {
			p, err := expr.Compile(r.When, expr.AsBool())
			if err != nil {
				add(path+".when", "%s", oneLine(err.Error()))
			} else {
				cr.when = p
				cols, _ := hrsource.ExprColumns(r.When) // it compiles: it parses
				rs.columns = append(rs.columns, cols...)
				names, whole, _ := hrsource.ExprNames(r.When)
				rs.envNames = append(rs.envNames, names...)
				rs.envWhole = rs.envWhole || whole
			}
		}
		if r.ForEach != "" {
			rs.columns = append(rs.columns, r.ForEach)
			rs.envNames = append(rs.envNames, r.ForEach)
		}
		for _, t := range []*template.Template{cr.name, cr.description} {
			if t != nil {
				cols, _ := templateColumns(t)
				rs.columns = append(rs.columns, cols...)
				names, whole := templateNames(t)
				rs.envNames = append(rs.envNames, names...)
				rs.envWhole = rs.envWhole || whole
			}
		}
		if r.MinMembers < 0 {
			add(path+".min_members", "must not be negative, got %d", r.MinMembers)
		}
		checkSettings(path+".settings", r.Settings)
		rs.rules = append(rs.rules, cr)
	}
	staticNames := map[string]int{}
	for i, s := range cfg.Static {
		path := fmt.Sprintf("skills.static[%d]", i)
		name := normalizeName(s.Name)
		if msg := validateName(name, rs.nameMaxLength); msg != "" {
			add(path+".name", "%s", msg)
		} else if j, dup := staticNames[nameKey(name)]; dup {
			add(path+".name", "%q is also the name of skills.static[%d]", name, j)
		} else {
			staticNames[nameKey(name)] = i
		}
		checkSettings(path+".settings", s.Settings)
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	slices.Sort(rs.columns)
	rs.columns = slices.Compact(rs.columns)
	slices.Sort(rs.envNames)
	rs.envNames = slices.Compact(rs.envNames)
	return rs, nil
}

// Columns lists the record attributes the rules read (name and
// description templates, when, for_each), sorted, as dotted paths where
// they reach inside a value ({{ .manager.email }} reads manager.email).
// The HR connectors that must name the fields they ask for (BambooHR,
// SuccessFactors) are given these through hrsource.Options.Columns.
func (rs *Rules) Columns() []string { return slices.Clone(rs.columns) }

// AdoptExisting reports the skills.adopt_existing setting.
func (rs *Rules) AdoptExisting() bool { return rs.adoptExisting }

func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, errors.New(oneLine(err.Error()))
	}
	return t, nil
}

// templateFields returns the attribute names a template reads as .Field and
// whether plain fields are all it reads from its data (so that its output is
// a function of those fields' values alone).
func templateFields(t *template.Template) ([]string, bool) {
	fields := map[string]bool{}
	ok := true
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			if len(n.Decl) > 0 {
				ok = false
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			fields[n.Ident[0]] = true
			if len(n.Ident) > 1 {
				ok = false
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode, *parse.WithNode, *parse.TemplateNode,
			*parse.DotNode, *parse.VariableNode, *parse.ChainNode:
			ok = false
		case *parse.TextNode, *parse.StringNode, *parse.NumberNode,
			*parse.BoolNode, *parse.NilNode, *parse.IdentifierNode, *parse.CommentNode:
		default:
			ok = false
		}
	}
	walk(t.Root)
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	slices.Sort(names)
	return names, ok
}

// printedAction is an action at the top level of a name template, alone
// in a template of its own, and the attributes (as .Field) it reads.
type printedAction struct {
	tmpl   *template.Template
	fields []string
}

// emptyAttribute returns the attribute that makes the action print
// nothing for env, if any: one of its attributes is empty and the action
// prints nothing. An action that prints something all the same ({{ or
// .Team "General" }}) is fine.
func (a printedAction) emptyAttribute(env map[string]any) (string, bool) {
	i := slices.IndexFunc(a.fields, func(f string) bool { return blankValue(env[f]) })
	if i < 0 {
		return "", false
	}
	var sb strings.Builder
	if err := a.tmpl.Execute(&sb, env); err != nil || strings.TrimSpace(sb.String()) != "" {
		return "", false
	}
	return a.fields[i], true
}

// printedFields returns the actions at the top level of t that read
// attributes (as .Field): those outside if, with and range, which print
// whatever the record holds. A template that guards an attribute ({{ if
// .Team }} / {{ .Team }}{{ end }}) says an empty one is fine. Actions
// that declare a variable print nothing by design and are left out.
func printedFields(t *template.Template) []printedAction {
	var out []printedAction
	fields := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			fields[n.Ident[0]] = true
		}
	}
	if t.Root == nil {
		return nil
	}
	for _, n := range t.Root.Nodes {
		a, ok := n.(*parse.ActionNode)
		if !ok || a.Pipe == nil || len(a.Pipe.Decl) > 0 {
			continue
		}
		clear(fields)
		walk(a.Pipe)
		if len(fields) == 0 {
			continue
		}
		tree := &parse.Tree{Name: t.Name(), Root: &parse.ListNode{NodeType: parse.NodeList, Nodes: []parse.Node{a.Copy()}}}
		at, err := template.New(t.Name()).Funcs(templateFuncs).Option("missingkey=error").AddParseTree(t.Name(), tree)
		if err != nil {
			continue // the whole template's execution reports it
		}
		out = append(out, printedAction{tmpl: at, fields: slices.Sorted(maps.Keys(fields))})
	}
	return out
}

// blankValue reports whether an attribute's value prints as nothing: an
// empty or blank string, no values, or no such attribute.
func blankValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	case []string:
		return !slices.ContainsFunc(v, func(s string) bool { return strings.TrimSpace(s) != "" })
	}
	return false
}

// templateColumns returns the attributes a template reads: .Field and
// .a.b (as a.b), and $.Field anywhere. Inside range and with, the dot is
// no longer the record: only $.Field counts there. whole is set when it
// may read more than those: the record as a whole ({{ . }} where the dot
// is the record, {{ $ }}, {{ template "x" . }}).
func templateColumns(t *template.Template) (out []string, whole bool) {
	var walk func(n parse.Node, record bool)
	walk = func(n parse.Node, record bool) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c, record)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe, record)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c, record)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, record)
			}
		case *parse.FieldNode:
			if record {
				out = append(out, strings.Join(n.Ident, "."))
			}
		case *parse.VariableNode:
			switch {
			case len(n.Ident) > 1 && n.Ident[0] == "$":
				out = append(out, strings.Join(n.Ident[1:], "."))
			case n.Ident[0] == "$":
				whole = true
			}
		case *parse.DotNode:
			whole = whole || record
		case *parse.ChainNode:
			walk(n.Node, record)
		case *parse.IfNode:
			walk(n.Pipe, record)
			walk(n.List, record)
			walk(n.ElseList, record)
		case *parse.RangeNode:
			walk(n.Pipe, record)
			walk(n.List, false)
			walk(n.ElseList, record)
		case *parse.WithNode:
			walk(n.Pipe, record)
			walk(n.List, false)
			walk(n.ElseList, record)
		case *parse.TemplateNode:
			whole = true
		case *parse.TextNode, *parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode,
			*parse.IdentifierNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode, nil:
		default:
			whole = true // a node this walk does not know: take no chance
		}
	}
	walk(t.Root, true)
	return out, whole
}

// templateNames returns the names a template reads from the record it is
// executed with (.work.email reads work), and whether it may read more
// (see templateColumns).
func templateNames(t *template.Template) (names []string, whole bool) {
	cols, whole := templateColumns(t)
	for _, c := range cols {
		name, _, _ := strings.Cut(c, ".")
		names = append(names, name)
	}
	return names, whole
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mergeSettings overlays rule settings on the defaults.
func mergeSettings(def, s Settings) Settings {
	out := def
	fields := liveperson.SkillFields()
	for i := range fields {
		fields[i].Merge(&out, &s)
	}
	return out
}

// validateName returns why a normalised name cannot be a skill name, or "".
func validateName(name string, maxLen int) string {
	switch {
	case name == "":
		return "skill name is empty"
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Sprintf("skill name %q contains a control character", name)
	case len([]rune(name)) > maxLen:
		return fmt.Sprintf("skill name %q is %d characters long (limit %d, skills.name_max_length)", name, len([]rune(name)), maxLen)
	}
	return ""
}

// DesiredSkill is one skill the HR data says should exist.
type DesiredSkill struct {
	Name        string
	Description string
	Settings    Settings
	// RuleID is the rule that produced the skill ("static:NAME" for static
	// skills).
	RuleID string
	// Key identifies the skill in the ownership registry: rule id and the
	// values of the attributes its name reads, e.g.
	// "department-role|Sales|Manager". It survives a changed name template.
	// When several keys produce the name (a template that merges two
	// groups), Key is the smallest of the first rule's keys and Keys lists
	// them all, sorted: the planner keeps the skill one of them owns
	// already, so a merge never depends on the order of the feed.
	Key  string
	Keys []string
	// Members are the ids of the active records the rule selected, sorted.
	Members []string
	// Static skills exist without members.
	Static bool
	// ManageDescription is false when neither rule nor static skill sets a
	// description: LivePerson's description is then left alone.
	ManageDescription bool
}

// RecordProblem is a record that a rule could not turn into a skill.
type RecordProblem struct {
	RecordID string `json:"record_id,omitempty"`
	Origin   string `json:"origin,omitempty"`
	RuleID   string `json:"rule"`
	Msg      string `json:"message"`
	// holds, for a record whose dates could not be read, are the skills
	// whose deletes and removals it holds (nil: every skill of the rule).
	holds *dateHolds
}

func (p RecordProblem) String() string {
	where := "record " + p.RecordID
	if p.Origin != "" {
		where += " (" + p.Origin + ")"
	}
	if p.RecordID == "" {
		where = "rule " + p.RuleID
	}
	return fmt.Sprintf("%s, rule %s: %s", where, p.RuleID, p.Msg)
}

// DesiredState is the evaluation of the rules over one snapshot.
type DesiredState struct {
	// Skills are sorted by name.
	Skills []DesiredSkill
	// Problems are records skipped by a rule (bad name, failed expression).
	// They do not stop the other records or rules. At most
	// maxProblemsPerRule are listed per rule (those of the smallest record
	// ids), then one problem without a record says how many more.
	Problems []RecordProblem
	// Skipped lists, per rule id, every record the rule skipped (sorted),
	// listed in Problems or not: those records keep the rule's skills.
	Skipped map[string][]string
	// Suppressed counts skills left out by min_members.
	Suppressed int
}

// Desired evaluates the rules over the active records of snap. It returns
// an error for configuration mistakes that only the data reveals: an
// expression or template naming an attribute the feed does not have, two
// rules producing one skill name with different settings, or a rule
// producing the name of a static skill.
//
// The result does not depend on the order of the records: names are
// grouped by NameKey, and a group's name (the smallest of the spellings
// its records produce), rule (the first in the configuration), key and
// description (rendered from its member with the smallest id) are chosen
// by rules that ignore the feed's order.
//
// Its steps: check the feed's columns, evaluate every rule over every
// record into groups of one name identity, list the records skipped,
// check the groups against each other and the static skills, then turn
// each group (and each static skill) into a desired skill.
func (rs *Rules) Desired(snap *hrsource.Snapshot) (*DesiredState, error) {
	if problems := rs.checkColumns(snap); len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	ev := rs.newEvaluation(snap)
	ev.evaluate()
	rs.listProblems(&ev.out, ev.skipped)
	// Groups in name order, so that errors and the result are stable.
	nks := slices.Sorted(maps.Keys(ev.groups))
	if problems := rs.checkGroups(ev.groups, nks); len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	for _, nk := range nks {
		ev.addSkill(ev.groups[nk])
	}
	ev.out.Skills = append(ev.out.Skills, rs.staticSkills()...)
	slices.SortFunc(ev.out.Skills, func(a, b DesiredSkill) int { return strings.Compare(a.Name, b.Name) })
	return &ev.out, nil
}

// evaluation is the state of one Desired: the groups the records make and
// what each rule skipped.
type evaluation struct {
	rs     *Rules
	snap   *hrsource.Snapshot
	out    DesiredState
	groups map[string]*group // by NameKey
	// skipped are the problems each rule reported, by rule index.
	skipped [][]RecordProblem
	states  []*evalState // by rule index
	// ids hold the desired skills' member ids, and the ids and origins
	// of the records the rules skipped: a record's id is cut from its
	// line of a CSV file, which the desired state would keep alive after
	// the records (1,000,000 lines of 80 bytes, for ids of 7), and its
	// origin from the buffer of every record's origin.
	ids textArena
}

// ruleEntry is what one combination of a rule's name attributes yields;
// evalState caches them per rule, so that evaluating 100,000 records costs
// a map lookup each.
type ruleEntry struct {
	key, name, problem string
	group              *group
}

type evalState struct {
	entries map[string]*ruleEntry
	vm      vm.VM
	buf     []byte
}

func (rs *Rules) newEvaluation(snap *hrsource.Snapshot) *evaluation {
	ev := &evaluation{rs: rs, snap: snap, groups: map[string]*group{},
		skipped: make([][]RecordProblem, len(rs.rules)), states: make([]*evalState, len(rs.rules))}
	for i := range ev.states {
		ev.states[i] = &evalState{entries: map[string]*ruleEntry{}}
	}
	return ev
}

// report records that rule r skipped rec (nil: no record).
func (ev *evaluation) report(r *compiledRule, rec *hrsource.Record, format string, args ...any) {
	p := RecordProblem{RuleID: r.cfg.ID, Msg: fmt.Sprintf(format, args...)}
	if rec != nil {
		// Copies: the run keeps its problems to the end, and the plan
		// with them, where the record's id would keep its line of the
		// feed alive and its origin the origins of every record.
		p.RecordID, p.Origin = ev.ids.str(rec.ID), ev.ids.str(rec.Origin)
	}
	ev.skipped[r.index] = append(ev.skipped[r.index], p)
}

// groupFor is the group of a name's identity, keeping its smallest
// spelling.
func (ev *evaluation) groupFor(name string) *group {
	nk := nameKey(name)
	g, ok := ev.groups[nk]
	if !ok {
		g = &group{name: name, via: map[int]*groupRule{}}
		ev.groups[nk] = g
	} else if name < g.name {
		g.name = name
	}
	return g
}

// resolve renders the name rule r gives env, and says what is wrong with
// it, if anything.
func (ev *evaluation) resolve(r *compiledRule, env map[string]any, key string) *ruleEntry {
	var sb strings.Builder
	if err := r.name.Execute(&sb, env); err != nil {
		return &ruleEntry{key: key, problem: "name: " + oneLine(err.Error())}
	}
	name := normalizeName(sb.String())
	if !r.nameCacheable {
		key = r.cfg.ID + "|" + name
	}
	for _, a := range r.namePrinted {
		if f, empty := a.emptyAttribute(env); empty {
			return &ruleEntry{key: key, problem: fmt.Sprintf("name: attribute %s is empty, which would make the skill %q; fix the record, or write the template to leave the attribute out when it is empty ({{ if .%s }}...{{ end }})", f, name, f)}
		}
	}
	return &ruleEntry{key: key, name: name, problem: validateName(name, ev.rs.nameMaxLength)}
}

// evaluate runs every rule over every active record. Records outer, rules
// inner: each record's environment is built once (into one reused map)
// and shared by every rule. It holds the attributes the rules read
// (Rules.envNames), unless one reads the record as a whole: boxing every
// column of 100,000 records into a map of all of them was most of the
// rules' cost.
func (ev *evaluation) evaluate() {
	var envBuf map[string]any
	var schema *hrsource.Schema
	var cols []int
	keys := make([][]keyColumn, len(ev.rs.rules)) // by rule index: see keyColumns
	for i := range ev.snap.Records {
		rec := &ev.snap.Records[i]
		if !rec.Active {
			continue
		}
		if rec.Schema != schema {
			schema = rec.Schema
			cols = nil
			clear(keys)
			if schema != nil {
				cols, _ = schema.EnvColumns(ev.rs.envNames)
				for _, r := range ev.rs.rules {
					keys[r.index] = r.keyColumns(schema)
				}
			}
		}
		// The environment is built when a rule needs it: a rule whose
		// key is made of the record's values needs it only for a key it
		// meets for the first time.
		built := false
		env := func() map[string]any {
			if !built {
				built = true
				if ev.rs.envWhole || schema == nil {
					envBuf = rec.EnvInto(envBuf)
				} else {
					envBuf = rec.EnvColumnsInto(envBuf, cols)
				}
			}
			return envBuf
		}
		for _, r := range ev.rs.rules {
			switch {
			case r.name == nil:
			case keys[r.index] != nil:
				ev.evalKeyed(r, int32(i), rec, keys[r.index], env)
			default:
				ev.evalRule(r, int32(i), rec, env())
			}
		}
	}
}

// env is the environment the rules evaluate rec with: its attributes
// the rules read (see evaluate).
func (ev *evaluation) env(rec *hrsource.Record) map[string]any {
	if ev.rs.envWhole || rec.Schema == nil {
		return rec.Env()
	}
	cols, _ := rec.Schema.EnvColumns(ev.rs.envNames)
	return rec.EnvColumnsInto(nil, cols)
}

// keyColumn is a column whose value is part of a rule's registry key
// (appendKey): sep is its multi-value separator.
type keyColumn struct {
	i   int
	sep string
}

// keyColumns returns the columns of s whose values make rule r's registry
// key, when the key is all that decides the name: a rule without when and
// for_each whose name template reads plain fields only, each a column of
// its own (Schema.Plain). Otherwise nil.
func (r *compiledRule) keyColumns(s *hrsource.Schema) []keyColumn {
	if r.when != nil || r.cfg.ForEach != "" || !r.nameCacheable {
		return nil
	}
	out := make([]keyColumn, 0, len(r.nameFields))
	for _, f := range r.nameFields {
		i, sep, ok := s.Plain(f)
		if !ok {
			return nil
		}
		out = append(out, keyColumn{i, sep})
	}
	return out
}

// evalKeyed is evalRule for a rule whose key is made of the record's
// values (keyColumns): appendKey without the environment, which env
// builds only for a key met for the first time.
func (ev *evaluation) evalKeyed(r *compiledRule, i int32, rec *hrsource.Record, cols []keyColumn, env func() map[string]any) {
	st := ev.states[r.index]
	st.buf = append(st.buf[:0], r.cfg.ID...)
	for _, c := range cols {
		st.buf = append(st.buf, '|')
		var v string
		if c.i < len(rec.Values) {
			v = rec.Values[c.i]
		}
		if c.sep != "" {
			v = strings.Join(hrsource.SplitMulti(v, c.sep), ",")
		}
		st.buf = append(st.buf, v...)
	}
	ent := st.entries[string(st.buf)]
	if ent == nil {
		ent = ev.resolve(r, env(), string(st.buf))
		st.entries[ent.key] = ent
	}
	ev.addEntry(r, ent, i, rec, "")
}

// evalRule runs rule r over record rec (index i, environment env): once,
// or once per value of its for_each attribute, adding the record to the
// group of each name it produces.
func (ev *evaluation) evalRule(r *compiledRule, i int32, rec *hrsource.Record, env map[string]any) {
	st := ev.states[r.index]
	envs := []map[string]any{env}
	var forValues []string
	if r.cfg.ForEach != "" {
		envs = envs[:0]
		switch v := env[r.cfg.ForEach].(type) {
		case []string:
			forValues = v
		case string:
			if v != "" {
				forValues = []string{v}
			}
		}
		forValues = dedupeValues(forValues)
		for _, v := range forValues {
			envs = append(envs, withValue(env, r.cfg.ForEach, v))
		}
	}
	for ei, e := range envs {
		if r.when != nil {
			res, err := st.vm.Run(r.when, e)
			if err != nil {
				ev.report(r, rec, "when: %s", oneLine(err.Error()))
				continue
			}
			if b, _ := res.(bool); !b {
				continue
			}
		}
		var forValue string
		if forValues != nil {
			forValue = forValues[ei]
		}
		st.buf = appendKey(st.buf[:0], r, e, forValue)
		var ent *ruleEntry
		if r.nameCacheable {
			ent = st.entries[string(st.buf)]
			if ent == nil {
				ent = ev.resolve(r, e, string(st.buf))
				st.entries[ent.key] = ent
			}
		} else {
			ent = ev.resolve(r, e, "")
		}
		ev.addEntry(r, ent, i, rec, forValue)
	}
}

// addEntry adds record rec (index i) to the group of the name rule r
// gives it (ent), or reports the entry's problem.
func (ev *evaluation) addEntry(r *compiledRule, ent *ruleEntry, i int32, rec *hrsource.Record, forValue string) {
	if ent.problem != "" {
		ev.report(r, rec, "%s", ent.problem)
		return
	}
	g := ent.group
	if g == nil {
		g = ev.groupFor(ent.name)
		if r.nameCacheable {
			ent.group = g
		}
	}
	g.add(r, ent.key, i, rec.ID, forValue)
}

// checkGroups reports the configuration mistakes the groups reveal: two
// rules producing one name with different settings, and a rule producing
// the name of a static skill.
func (rs *Rules) checkGroups(groups map[string]*group, nks []string) []string {
	var problems []string
	staticByKey := map[string]int{}
	for i, s := range rs.static {
		staticByKey[nameKey(s.Name)] = i
	}
	for _, nk := range nks {
		g := groups[nk]
		rules := slices.Sorted(maps.Keys(g.via))
		first := rs.rules[rules[0]]
		for _, ri := range rules[1:] {
			if r := rs.rules[ri]; !settingsEqual(first.settings, r.settings) {
				problems = append(problems, fmt.Sprintf("skills.rules: rules %q (%s) and %q (%s) both produce the skill %q with different settings; give them the same settings or different names",
					first.cfg.ID, first.path, r.cfg.ID, r.path, g.name))
			}
		}
		if i, ok := staticByKey[nk]; ok {
			problems = append(problems, fmt.Sprintf("skills: rule %q (%s) produces %q, the name of static skill skills.static[%d] %q; a skill is either static or made by a rule: rename one of them",
				first.cfg.ID, first.path, g.name, i, normalizeName(rs.static[i].Name)))
		}
	}
	return problems
}

// addSkill turns group g into a desired skill of its first rule, unless
// it has fewer members than the rule's min_members or its description
// cannot be rendered (then the record is skipped).
func (ev *evaluation) addSkill(g *group) {
	rs := ev.rs
	members := make([]string, len(g.members))
	for i, rec := range g.members {
		members[i] = ev.snap.Records[rec].ID
	}
	slices.SortFunc(members, compareIDs)
	members = slices.Compact(members)
	for i, id := range members {
		members[i] = ev.ids.str(id)
	}
	rules := slices.Sorted(maps.Keys(g.via))
	r := rs.rules[rules[0]]
	// min_members counts people: one person reaching the name by two
	// values or rules is one member.
	if len(members) < r.cfg.MinMembers {
		ev.out.Suppressed++
		return
	}
	via := g.via[r.index]
	var desc string
	if r.description != nil {
		rec := &ev.snap.Records[via.descRecord]
		env := ev.env(rec)
		if r.cfg.ForEach != "" {
			env = withValue(env, r.cfg.ForEach, via.descFor)
		}
		var sb strings.Builder
		if err := r.description.Execute(&sb, env); err != nil {
			ev.report(r, rec, "description: %s", oneLine(err.Error()))
			rs.listProblems(&ev.out, ev.skipped)
			return
		}
		desc = normalizeName(sb.String())
	}
	var keys []string
	for _, ri := range rules {
		keys = append(keys, g.via[ri].keys...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	ev.out.Skills = append(ev.out.Skills, DesiredSkill{
		Name: g.name, Description: desc, Settings: r.settings, RuleID: r.cfg.ID,
		Key: slices.Min(via.keys), Keys: keys, Members: members,
		ManageDescription: r.description != nil,
	})
}

// staticSkills are the desired skills of skills.static.
func (rs *Rules) staticSkills() []DesiredSkill {
	out := make([]DesiredSkill, 0, len(rs.static))
	for _, s := range rs.static {
		name := normalizeName(s.Name)
		out = append(out, DesiredSkill{
			Name: name, Description: strings.TrimSpace(s.Description),
			Settings: mergeSettings(rs.defaults, s.Settings),
			RuleID:   staticRulePrefix + name, Key: staticRulePrefix + name, Static: true,
			ManageDescription: strings.TrimSpace(s.Description) != "",
		})
	}
	return out
}

// group collects what the records say about one skill name.
type group struct {
	name string // the smallest spelling seen
	// members are the indexes of the member records (in the snapshot),
	// 4 bytes each while they are gathered rather than an id's 16.
	members []int32
	via     map[int]*groupRule // by rule index
}

// groupRule is what one rule contributes to a group: its registry keys
// and the member (smallest id) whose record renders the description.
type groupRule struct {
	keys       []string
	descID     string
	descRecord int32
	descFor    string
}

func (g *group) add(r *compiledRule, key string, recIndex int32, recID, forValue string) {
	g.members = append(g.members, recIndex)
	v := g.via[r.index]
	if v == nil {
		v = &groupRule{descID: recID, descRecord: recIndex, descFor: forValue}
		g.via[r.index] = v
	} else if r.description != nil {
		if c := compareIDs(recID, v.descID); c < 0 || c == 0 && forValue < v.descFor {
			v.descID, v.descRecord, v.descFor = recID, recIndex, forValue
		}
	}
	if !slices.Contains(v.keys, key) {
		v.keys = append(v.keys, key)
	}
}

// listProblems fills out.Problems and out.Skipped from the problems each
// rule reported: per rule, sorted by record id, the first
// maxProblemsPerRule listed and the rest counted.
func (rs *Rules) listProblems(out *DesiredState, skipped [][]RecordProblem) {
	out.Problems, out.Skipped = nil, nil
	for ri, ps := range skipped {
		if len(ps) == 0 {
			continue
		}
		slices.SortStableFunc(ps, func(a, b RecordProblem) int {
			return cmp.Or(compareIDs(a.RecordID, b.RecordID), strings.Compare(a.Msg, b.Msg))
		})
		if out.Skipped == nil {
			out.Skipped = map[string][]string{}
		}
		id := rs.rules[ri].cfg.ID
		ids := make([]string, 0, len(ps))
		for _, p := range ps {
			ids = append(ids, p.RecordID)
		}
		out.Skipped[id] = slices.Compact(ids)
		out.Problems = append(out.Problems, ps[:min(len(ps), maxProblemsPerRule)]...)
		if n := len(ps) - maxProblemsPerRule; n > 0 {
			out.Problems = append(out.Problems, RecordProblem{RuleID: id, Msg: fmt.Sprintf("%d more records skipped for the same reasons", n)})
		}
	}
}

// checkColumns reports templates, for_each attributes and expressions that
// name attributes the feed does not have.
func (rs *Rules) checkColumns(snap *hrsource.Snapshot) []string {
	var problems []string
	var columns map[string]bool
	if snap.Schema != nil {
		columns = make(map[string]bool, len(snap.Schema.Columns))
		for _, c := range snap.Schema.Columns {
			columns[c] = true
		}
	}
	var sampleEnv map[string]any
	for i := range snap.Records {
		if snap.Records[i].Active {
			sampleEnv = snap.Records[i].Env()
			break
		}
	}
	for _, r := range rs.rules {
		if columns == nil {
			continue
		}
		for _, f := range append(slices.Clone(r.nameFields), r.descFields...) {
			if !columns[f] && f != r.cfg.ForEach && !hasColumnPrefix(snap.Schema.Columns, f+".") {
				problems = append(problems, fmt.Sprintf("%s: template reads attribute %q, which the HR feed does not have (columns: %s)", r.path, f, strings.Join(snap.Schema.Columns, ", ")))
			}
		}
		if r.cfg.ForEach != "" && !columns[r.cfg.ForEach] {
			problems = append(problems, fmt.Sprintf("%s.for_each: attribute %q is not in the HR feed", r.path, r.cfg.ForEach))
		}
		// Type-check the expression against a real record once, so a
		// misspelt attribute is a clear error instead of a silent false.
		if r.when != nil && sampleEnv != nil {
			env := sampleEnv
			if r.cfg.ForEach != "" {
				env = withValue(sampleEnv, r.cfg.ForEach, "")
			}
			if _, err := expr.Compile(r.cfg.When, expr.Env(env), expr.AsBool()); err != nil {
				problems = append(problems, fmt.Sprintf("%s.when: %s", r.path, oneLine(err.Error())))
			}
		}
	}
	return problems
}

// appendKey appends the registry key of a record under rule r: the rule
// id and the values of the attributes its name reads (with the for_each
// value for rules that expand one), e.g. "department-role|Sales|Manager".
func appendKey(buf []byte, r *compiledRule, env map[string]any, forValue string) []byte {
	buf = append(buf, r.cfg.ID...)
	for _, f := range r.nameFields {
		buf = append(buf, '|')
		switch v := env[f].(type) {
		case string:
			buf = append(buf, v...)
		case []string:
			buf = append(buf, strings.Join(v, ",")...)
		case nil:
		default:
			buf = fmt.Append(buf, v)
		}
	}
	if r.cfg.ForEach != "" && !slices.Contains(r.nameFields, r.cfg.ForEach) {
		buf = append(buf, '|')
		buf = append(buf, forValue...)
	}
	return buf
}

// withValue returns a copy of env with the for_each attribute bound to one
// of its values. The attribute keeps its own name, so `{{ .Languages }}` and
// `Languages == "German"` read naturally inside a for_each rule.
func withValue(env map[string]any, attr, value string) map[string]any {
	out := make(map[string]any, len(env))
	for k, v := range env {
		out[k] = v
	}
	out[attr] = value
	return out
}

func dedupeValues(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// compareIDs orders record ids numerically when both are numbers, so
// "2" sorts before "10"; otherwise as strings.
func compareIDs(a, b string) int {
	if plainNumber(a) && plainNumber(b) {
		// The usual ids, without parsing them: for plain numbers, the
		// shorter is the smaller, and of two as long, the first in text.
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}
	return compareParsedIDs(a, b)
}

// compareParsedIDs is compareIDs by parsing the ids.
func compareParsedIDs(a, b string) int {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(ai, bi)
	}
	return strings.Compare(a, b)
}

// plainNumber reports whether s is a number strconv.ParseInt reads
// whole, written without sign or leading zero: 1 to 18 digits.
func plainNumber(s string) bool {
	if len(s) == 0 || len(s) > 18 || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func settingsEqual(a, b Settings) bool {
	fields := liveperson.SkillFields()
	for i := range fields {
		if !fields[i].SameSetting(&a, &b) {
			return false
		}
	}
	return true
}

// hasColumnPrefix reports whether a dotted column (a flattened JSON object)
// makes prefix reachable as a nested map.
func hasColumnPrefix(columns []string, prefix string) bool {
	return slices.ContainsFunc(columns, func(c string) bool { return strings.HasPrefix(c, prefix) })
}
