package sync

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
)

// loadIBM reads the IBM HR sample with encoding/csv, independently of
// hrsource, so the rules tests check the engine and not the reader.
func loadIBM(t testing.TB) *hrsource.Snapshot {
	t.Helper()
	f, err := os.Open("../testdata/ibm-hr-employee-attrition.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	schema := hrsource.NewSchema(rows[0], nil)
	snap := &hrsource.Snapshot{Schema: schema}
	idCol, attrCol := schema.Index("EmployeeNumber"), schema.Index("Attrition")
	for i, row := range rows[1:] {
		r := hrsource.Record{ID: row[idCol], Active: row[attrCol] == "No", Schema: schema, Values: row,
			Origin: fmt.Sprintf("ibm.csv:%d", i+2)}
		snap.Records = append(snap.Records, r)
		snap.Stats.Records++
		if r.Active {
			snap.Stats.Active++
		}
	}
	return snap
}

// snapshotOf builds a snapshot from rows of column=value pairs; the column
// "active" (default true) and "id" are record fields.
func snapshotOf(columns []string, multi map[string]string, rows ...map[string]string) *hrsource.Snapshot {
	schema := hrsource.NewSchema(columns, multi)
	snap := &hrsource.Snapshot{Schema: schema}
	for _, row := range rows {
		vals := make([]string, len(columns))
		for i, c := range columns {
			vals[i] = row[c]
		}
		r := hrsource.Record{ID: row["id"], Active: row["active"] != "false", Schema: schema, Values: vals}
		snap.Records = append(snap.Records, r)
		snap.Stats.Records++
		if r.Active {
			snap.Stats.Active++
		}
	}
	return snap
}

func ptr[T any](v T) *T { return &v }

func names(ds *DesiredState) []string {
	var out []string
	for _, s := range ds.Skills {
		out = append(out, s.Name)
	}
	return out
}

func TestRulesIBM(t *testing.T) {
	t.Parallel()
	snap := loadIBM(t)
	if snap.Stats.Records != 1470 || snap.Stats.Active != 1233 {
		t.Fatalf("sample: %d records, %d active; want 1470, 1233", snap.Stats.Records, snap.Stats.Active)
	}
	// The expected department/role pairs are counted here directly from the
	// rows, independently of the rules engine.
	pairCount := map[string]int{}
	deptMembers := map[string]int{}
	for _, r := range snap.Records {
		if !r.Active {
			continue
		}
		d, _ := r.Attr("Department")
		role, _ := r.Attr("JobRole")
		pairCount[d+" / "+role]++
		deptMembers[d]++
	}
	var want40 []string
	for p, n := range pairCount {
		if n >= 40 {
			want40 = append(want40, p)
		}
	}
	slices.Sort(want40)
	if len(want40) == 0 || len(want40) == len(pairCount) {
		t.Fatalf("min_members 40 should select some but not all of %d pairs, got %d", len(pairCount), len(want40))
	}

	tests := []struct {
		name  string
		cfg   SkillsConfig
		want  []string
		check func(t *testing.T, ds *DesiredState)
	}{
		{
			name: "one skill per department",
			cfg:  SkillsConfig{Rules: []Rule{{ID: "department", Name: "{{ .Department }}", Description: "{{ .Department }} staff", MinMembers: 1}}},
			want: []string{"Human Resources", "Research & Development", "Sales"},
			check: func(t *testing.T, ds *DesiredState) {
				for _, s := range ds.Skills {
					if len(s.Members) != deptMembers[s.Name] {
						t.Errorf("%s: %d members, want %d active", s.Name, len(s.Members), deptMembers[s.Name])
					}
					if s.Key != "department|"+s.Name || s.RuleID != "department" || s.Description != s.Name+" staff" {
						t.Errorf("%s: key %q rule %q description %q", s.Name, s.Key, s.RuleID, s.Description)
					}
					if !slices.IsSortedFunc(s.Members, compareIDs) {
						t.Errorf("%s: members not sorted", s.Name)
					}
				}
			},
		},
		{
			name: "department and role with min_members 40",
			cfg:  SkillsConfig{Rules: []Rule{{ID: "department-role", Name: "{{ .Department }} / {{ .JobRole }}", MinMembers: 40}}},
			want: want40,
			check: func(t *testing.T, ds *DesiredState) {
				if ds.Suppressed != len(pairCount)-len(want40) {
					t.Errorf("suppressed %d, want %d", ds.Suppressed, len(pairCount)-len(want40))
				}
				for _, s := range ds.Skills {
					if len(s.Members) != pairCount[s.Name] {
						t.Errorf("%s: %d members, want %d", s.Name, len(s.Members), pairCount[s.Name])
					}
					dept, role, _ := strings.Cut(s.Name, " / ")
					if s.Key != "department-role|"+dept+"|"+role {
						t.Errorf("key %q", s.Key)
					}
				}
			},
		},
		{
			name: "when selects, templates use functions",
			cfg: SkillsConfig{Rules: []Rule{{ID: "sales-travel", Name: `{{ upper .Department }} {{ replace "_" " " .BusinessTravel | lower }}`,
				When: `Department == "Sales" && OverTime == "Yes"`}}},
			want: []string{"SALES non-travel", "SALES travel frequently", "SALES travel rarely"},
		},
		{
			name: "static skills need no records",
			cfg: SkillsConfig{Static: []Static{{Name: "  Escalations  desk ", Description: "on call"}},
				Defaults: Settings{MaxWaitTime: ptr(120)}},
			want: []string{"Escalations desk"},
			check: func(t *testing.T, ds *DesiredState) {
				s := ds.Skills[0]
				if s.Key != "static:Escalations desk" || !s.Static || *s.Settings.MaxWaitTime != 120 {
					t.Errorf("static skill %+v", s)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules, err := CompileRules(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := rules.Desired(snap)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(ds); !slices.Equal(got, tt.want) {
				t.Fatalf("skills\n got %q\nwant %q", got, tt.want)
			}
			if len(ds.Problems) > 0 {
				t.Errorf("problems: %v", ds.Problems)
			}
			if tt.check != nil {
				tt.check(t, ds)
			}
		})
	}
}

func TestRulesRecords(t *testing.T) {
	t.Parallel()
	cols := []string{"id", "Dept", "Languages", "Team"}
	multi := map[string]string{"Languages": ";"}
	snap := snapshotOf(cols, multi,
		map[string]string{"id": "1", "Dept": "Sales", "Languages": "German; French", "Team": "A"},
		map[string]string{"id": "2", "Dept": "Sales", "Languages": "German", "Team": "B\x01"},
		map[string]string{"id": "3", "Dept": "Billing", "Languages": "", "Team": ""},
		map[string]string{"id": "10", "Dept": "Sales", "Languages": "French", "Team": "A", "active": "false"},
		map[string]string{"id": "11", "Dept": "Sales", "Languages": "Italian", "Team": "C"},
	)
	tests := []struct {
		name     string
		cfg      SkillsConfig
		want     []string
		members  map[string][]string
		keys     map[string]string
		problems []string // "record|rule" pairs
		wantErr  string
	}{
		{
			name:    "for_each binds the value under the attribute's name",
			cfg:     SkillsConfig{Rules: []Rule{{ID: "lang", Name: "{{ .Languages }} speakers", ForEach: "Languages", When: `Languages != "Italian"`}}},
			want:    []string{"French speakers", "German speakers"},
			members: map[string][]string{"French speakers": {"1"}, "German speakers": {"1", "2"}},
			keys:    map[string]string{"French speakers": "lang|French"},
		},
		{
			name: "for_each with an explicit attribute",
			cfg:  SkillsConfig{Rules: []Rule{{ID: "lang", Name: "{{ .Dept }} {{ .Languages }}", ForEach: "Languages"}}},
			want: []string{"Sales French", "Sales German", "Sales Italian"},
			keys: map[string]string{"Sales French": "lang|Sales|French"},
		},
		{
			name:    "names normalised, inactive records ignored",
			cfg:     SkillsConfig{Rules: []Rule{{ID: "dept", Name: "{{ .Dept }}   team"}}},
			want:    []string{"Billing team", "Sales team"},
			members: map[string][]string{"Sales team": {"1", "2", "11"}},
		},
		{
			name:     "invalid names reported per record, others proceed",
			cfg:      SkillsConfig{Rules: []Rule{{ID: "team", Name: "{{ .Team }}"}, {ID: "dept", Name: "{{ .Dept }}"}}},
			want:     []string{"A", "Billing", "C", "Sales"},
			problems: []string{"2|team", "3|team"},
		},
		{
			name:     "name length limit",
			cfg:      SkillsConfig{NameMaxLength: 6, Rules: []Rule{{ID: "dept", Name: "{{ .Dept }}!"}}},
			want:     []string{"Sales!"},
			problems: []string{"3|dept"},
		},
		{
			name: "same name, same settings from two rules merge",
			cfg: SkillsConfig{Rules: []Rule{
				{ID: "a", Name: "{{ .Dept }}", When: `Team == "A"`},
				{ID: "b", Name: "{{ .Dept }}", When: `Team == "C"`},
			}},
			want:    []string{"Sales"},
			members: map[string][]string{"Sales": {"1", "11"}},
		},
		{
			name: "same name, different settings",
			cfg: SkillsConfig{Rules: []Rule{
				{ID: "a", Name: "{{ .Dept }}"},
				{ID: "b", Name: "{{ .Dept }}", Settings: Settings{SkillOrder: ptr(2)}},
			}},
			wantErr: `rules "a" (skills.rules[0]) and "b" (skills.rules[1]) both produce the skill "Billing"`,
		},
		{
			name:    "unknown attribute in when",
			cfg:     SkillsConfig{Rules: []Rule{{ID: "a", Name: "x", When: `Departmnet == "Sales"`}}},
			wantErr: "skills.rules[0].when: unknown name Departmnet",
		},
		{
			name:    "unknown attribute in a template",
			cfg:     SkillsConfig{Rules: []Rule{{ID: "a", Name: "{{ .Departmnet }}"}}},
			wantErr: `skills.rules[0]: template reads attribute "Departmnet"`,
		},
		{
			name: "min_members counts active members",
			cfg:  SkillsConfig{Rules: []Rule{{ID: "dept", Name: "{{ .Dept }}", MinMembers: 3}}},
			want: []string{"Sales"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules, err := CompileRules(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := rules.Desired(snap)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(ds); !slices.Equal(got, tt.want) {
				t.Fatalf("skills\n got %q\nwant %q", got, tt.want)
			}
			for _, s := range ds.Skills {
				if m, ok := tt.members[s.Name]; ok && !slices.Equal(s.Members, m) {
					t.Errorf("%s members %v, want %v", s.Name, s.Members, m)
				}
				if k, ok := tt.keys[s.Name]; ok && s.Key != k {
					t.Errorf("%s key %q, want %q", s.Name, s.Key, k)
				}
			}
			var probs []string
			for _, p := range ds.Problems {
				probs = append(probs, p.RecordID+"|"+p.RuleID)
			}
			if !slices.Equal(probs, tt.problems) {
				t.Errorf("problems %v, want %v (%v)", probs, tt.problems, ds.Problems)
			}
		})
	}
}

func TestCompileRulesErrors(t *testing.T) {
	t.Parallel()
	_, err := CompileRules(SkillsConfig{
		Rules: []Rule{
			{ID: "", Name: "{{ .A }}"},
			{ID: "x", Name: "{{ .A ", When: "A ==", MinMembers: -1},
			{ID: "x", Name: "ok", Settings: Settings{MaxWaitTime: ptr(-5)}},
		},
		Static: []Static{{Name: ""}, {Name: "E"}, {Name: "e"}},
	})
	var ce *ConfigError
	if !errorsAs(err, &ce) {
		t.Fatalf("error %v, want *ConfigError", err)
	}
	want := []string{
		"skills.rules[0].id", "skills.rules[1].name", "skills.rules[1].when", "skills.rules[1].min_members",
		"skills.rules[2].id", "skills.rules[2].settings.max_wait_time", "skills.static[0].name", "skills.static[2].name",
	}
	for _, w := range want {
		found := false
		for _, p := range ce.Problems {
			if strings.HasPrefix(p, w+": ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem reported at %s; got:\n%s", w, strings.Join(ce.Problems, "\n"))
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ce.Problems), len(want), strings.Join(ce.Problems, "\n"))
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestRulesColumns checks the attributes the rules report reading, which
// the BambooHR and SuccessFactors connectors ask their vendor for.
func TestRulesColumns(t *testing.T) {
	t.Parallel()
	rs, err := CompileRules(SkillsConfig{Rules: []Rule{
		{ID: "dept", Name: "{{ .Department | title }} / {{ .manager.email }}", Description: `{{ if .Remote }}remote{{ else }}{{ .Site }}{{ end }}`},
		{ID: "lang", Name: "{{ .Languages }} speakers", ForEach: "Languages", When: `Level >= 2 && job.title != ""`},
		{ID: "range", Name: `{{ range .Teams }}{{ .name }}{{ $.Region }}{{ end }}`, When: `$env["Cost Centre"] != ""`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Cost Centre", "Department", "Languages", "Level", "Region", "Remote", "Site", "Teams", "job.title", "manager.email"}
	if got := rs.Columns(); !slices.Equal(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
}

// FuzzRules feeds arbitrary templates and expressions through compile and
// evaluation: no panic, and every skill produced has a valid name.
func FuzzRules(f *testing.F) {
	for _, seed := range [][3]string{
		{"{{ .Dept }}", `Dept != ""`, ""},
		{"{{ upper .Dept }} / {{ .Languages }}", `Languages == "German"`, "Languages"},
		{`{{ replace "a" "b" .Dept | title }}`, "", ""},
		{"{{ .Missing }}", "Missing > 3", ""},
		{"{{", "((", "Dept"},
		{"  \t ", "true", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	snap := snapshotOf([]string{"id", "Dept", "Languages"}, map[string]string{"Languages": ";"},
		map[string]string{"id": "1", "Dept": "Sales", "Languages": "German;French"},
		map[string]string{"id": "2", "Dept": "a\x00b", "Languages": ""},
		map[string]string{"id": "3", "Dept": strings.Repeat("x", 80), "Languages": "German"},
	)
	f.Fuzz(func(t *testing.T, name, when, forEach string) {
		rules, err := CompileRules(SkillsConfig{Rules: []Rule{{ID: "r", Name: name, When: when, ForEach: forEach}}})
		if err != nil {
			return
		}
		ds, err := rules.Desired(snap)
		if err != nil {
			return
		}
		for _, s := range ds.Skills {
			if msg := validateName(s.Name, DefaultNameMaxLength); msg != "" || s.Name != normalizeName(s.Name) {
				t.Fatalf("invalid skill name %q: %s", s.Name, msg)
			}
			if s.Key != "r" && !strings.HasPrefix(s.Key, "r|") {
				t.Fatalf("key %q", s.Key)
			}
		}
	})
}

// The same sample read through hrsource (CRLF, field mapping, the active
// expression) gives the same skills as the independent reader above.
func TestRulesIBMThroughHRSource(t *testing.T) {
	t.Parallel()
	snap, err := hrsource.ReadFile(context.Background(), "../testdata/ibm-hr-employee-attrition.csv",
		hrsource.Config{Fields: hrsource.FieldsConfig{ID: "EmployeeNumber"}, Active: `Attrition == "No"`})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := CompileRules(SkillsConfig{Rules: []Rule{
		{ID: "department", Name: "{{ .Department }}"},
		{ID: "department-role", Name: "{{ .Department }} / {{ .JobRole }}", MinMembers: 40},
	}})
	if err != nil {
		t.Fatal(err)
	}
	viaSource, err := rules.Desired(snap)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := rules.Desired(loadIBM(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(viaSource.Skills) != len(direct.Skills) || len(viaSource.Skills) < 4 {
		t.Fatalf("%d skills via hrsource, %d direct", len(viaSource.Skills), len(direct.Skills))
	}
	for i := range direct.Skills {
		a, b := viaSource.Skills[i], direct.Skills[i]
		if a.Name != b.Name || a.Key != b.Key || !slices.Equal(a.Members, b.Members) {
			t.Errorf("skill %d: %s/%d members vs %s/%d", i, a.Name, len(a.Members), b.Name, len(b.Members))
		}
	}
}

func TestTemplateNames(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]struct {
		names []string
		whole bool
	}{
		`{{ .Dept }} / {{ lower .Role }}`:                          {[]string{"Dept", "Role"}, false},
		`{{ .work.email }}{{ $.Site }}`:                            {[]string{"work", "Site"}, false},
		`{{ with .Team }}{{ . }} {{ .x }}{{ end }}`:                {[]string{"Team"}, false},
		`{{ range .Langs }}{{ . }}{{ $.Dept }}{{ end }}`:           {[]string{"Langs", "Dept"}, false},
		`{{ if .A }}{{ .B }}{{ else }}{{ .C }}{{ end }}`:           {[]string{"A", "B", "C"}, false},
		`{{ index . "Dept Name" }}`:                                {nil, true},
		`{{ $ }}`:                                                  {nil, true},
		`{{ $r := . }}{{ $r.Dept }}`:                               {nil, true},
		`{{ define "x" }}{{ .Dept }}{{ end }}{{ template "x" . }}`: {nil, true},
	} {
		tmpl, err := parseTemplate("t", text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		names, whole := templateNames(tmpl)
		if whole != want.whole || !want.whole && !slices.Equal(names, want.names) {
			t.Errorf("templateNames(%s) = %q, %v; want %q, %v", text, names, whole, want.names, want.whole)
		}
	}
}

// TestCompareIDs checks the plain-number shortcut against the order of
// the parsed numbers, and the ids it leaves to the slow path.
func TestCompareIDs(t *testing.T) {
	t.Parallel()
	ids := []string{"0", "1", "2", "9", "10", "010", "007", "7", "+7", "-3", "-10", "99", "100", "123456789012345678",
		"999999999999999999", "1000000000000000000", "9223372036854775807", "9223372036854775808", "a", "A10", "", " 5", "5 ", "1e3"}
	for _, a := range ids {
		for _, b := range ids {
			if got, want := compareIDs(a, b), compareParsedIDs(a, b); got != want {
				t.Errorf("compareIDs(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}
