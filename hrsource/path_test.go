package hrsource

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "manager/email", want: []string{"manager", "email"}},
		{in: "/manager/email", want: []string{"manager", "email"}},
		{in: "empInfo/jobInfoNav/results/0/department", want: []string{"empInfo", "jobInfoNav", "results", "0", "department"}},
		{in: "/customFood~1drink", want: []string{"customFood/drink"}},
		{in: "a~0b/c", want: []string{"a~b", "c"}},
		{in: "a//b", err: "step 2"},
		{in: "/", err: "empty path"},
		{in: "a/b~2", err: `"~" must be followed by 0`},
		{in: "a/b~", err: `"~" must be followed by 0`},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parsePath(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parsePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPathExtract(t *testing.T) {
	t.Parallel()
	const rec = `{"userId": "u1", "manager": {"__metadata": {"uri": "x"}, "email": "boss@x.io"},
		"empInfo": {"jobInfoNav": {"results": [{"department": "Sales", "a\"b": 1}, {"department": "Ops"}]}},
		"tags": ["a", "b"], "none": null, "k/ey": "slash", "esc\u0061ped": "yes"}`
	tests := []struct {
		path  string
		want  string
		found bool
	}{
		{"userId", `"u1"`, true},
		{"manager/email", `"boss@x.io"`, true},
		{"empInfo/jobInfoNav/results/0/department", `"Sales"`, true},
		{"empInfo/jobInfoNav/results/1/department", `"Ops"`, true},
		{"empInfo/jobInfoNav/results/2/department", "", false},
		{"empInfo/jobInfoNav/results/0/a\"b", "1", true},
		{"tags/1", `"b"`, true},
		{"tags/x", "", false},
		{"none", "null", true},
		{"none/x", "", false},
		{"/k~1ey", `"slash"`, true},
		{"escaped", `"yes"`, true},
		{"manager/missing", "", false},
		{"userId/0", "", false},
		{"empInfo/jobInfoNav/results/00/department", "", false},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte(rec)
		got, found, err := p.extract(&jsonText{data: data, text: rec}, data)
		if err != nil || got != tt.want || found != tt.found {
			t.Errorf("extract(%q) = %q, %v, %v; want %q, %v", tt.path, got, found, err, tt.want, tt.found)
		}
	}
}

func TestPathODataSelect(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"manager/email": "manager/email",
		"empInfo/jobInfoNav/results/0/department": "empInfo/jobInfoNav/department",
		"results":   "results",
		"a/results": "a/results",
		"a/3/b":     "a/b",
	}
	for in, want := range tests {
		p, _ := parsePath(in)
		if got := strings.Join(p.odata(), "/"); got != want {
			t.Errorf("odata(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJSONPaths reads nested values through hr.columns and hr.fields paths.
func TestJSONPaths(t *testing.T) {
	t.Parallel()
	const doc = `{"d": {"results": [
	{"userId": "u1", "status": "t", "manager": {"email": "boss@x.io"},
	 "empInfo": {"jobInfoNav": {"results": [{"department": "Sales", "langs": ["en", "fr"]}]}}},
	{"userId": "u2", "status": "f", "manager": null,
	 "empInfo": {"jobInfoNav": {"results": []}}}
	]}}`
	cfg := Config{
		RecordsPath: "d.results",
		Fields:      FieldsConfig{ID: "userId", Email: "manager/email"},
		Columns:     map[string]string{"Department": "empInfo/jobInfoNav/results/0/department", "Languages": "empInfo/jobInfoNav/results/0/langs"},
		MultiValue:  map[string]string{"Languages": ";"},
		Active:      `status == "t" && Department == "Sales" && "fr" in Languages`,
	}
	snap, err := readDoc(t, "users.json", doc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := activeIDs(snap.Records); !slices.Equal(got, []string{"u1"}) {
		t.Errorf("active = %q, want u1", got)
	}
	r := snap.Records[0]
	if r.Email != "boss@x.io" {
		t.Errorf("email = %q", r.Email)
	}
	if v, _ := r.Attr("Languages"); v != "en;fr" {
		t.Errorf("Languages = %q", v)
	}
	if env := r.Env(); env["Department"] != "Sales" {
		t.Errorf("env Department = %v", env["Department"])
	}
	if r := snap.Records[1]; r.Email != "" {
		t.Errorf("u2 email = %q, want empty (manager is null)", r.Email)
	}
	if v, _ := snap.Records[1].Attr("Department"); v != "" {
		t.Errorf("u2 Department = %q, want empty (no job info)", v)
	}
}

func TestJSONPathProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		cfg  Config
		want []want
	}{
		{
			name: "a path that reaches nothing",
			doc:  `[{"id": "1", "manager": {"mail": "x"}}]`,
			cfg:  Config{Fields: FieldsConfig{ID: "id"}, Columns: map[string]string{"Boss": "manager/email"}},
			want: []want{{"hr.columns.Boss", []string{`"Boss" reaches nothing`, "id, manager.mail"}}},
		},
		{
			name: "an id path that reaches nothing",
			doc:  `[{"id": "1"}, {"id": "2"}]`,
			cfg:  Config{Fields: FieldsConfig{ID: "person/id"}},
			want: []want{{"hr.fields.id", []string{`"person/id" reaches nothing`}}},
		},
		{
			name: "a column name the record already has",
			doc:  `[{"id": "1", "Department": "Sales", "job": {"dept": "Ops"}}]`,
			cfg:  Config{Fields: FieldsConfig{ID: "id"}, Columns: map[string]string{"Department": "job/dept"}},
			want: []want{{"users.json: [0]", []string{"hr.columns.Department reads \"Department\"", "already has"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := readDoc(t, "users.json", tt.doc, tt.cfg)
			checkProblems(t, err, tt.want)
		})
	}
}

func TestExprColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`Attrition == "No"`, []string{"Attrition"}},
		{`manager.email != "" && manager.id > 0`, []string{"manager.email", "manager.id"}},
		{`manager != nil && manager.email != ""`, []string{"manager", "manager.email"}},
		{`$env["Dept Name"] == "x"`, []string{"Dept Name"}},
		{`Tags[0] == "a" || len(Tags) > 1`, []string{"Tags"}},
		{`let d = lower(Department); d == "sales"`, []string{"Department"}},
		{`let status = lower(status); status == "active" && d`, []string{"d", "status"}},
		{`let m = manager; m.email != "" && manager.id > 0`, []string{"manager", "manager.id"}},
		{`all(Skills, {# != "x"}) and any(Jobs, .title == "Boss")`, []string{"Jobs", "Skills"}},
		{`a.b["c"].d == 1`, []string{"a.b.c.d"}},
		{`a.b[0].c == 1`, []string{"a.b"}},
		{`"fr" in Languages ? Site : "none"`, []string{"Languages", "Site"}},
		{``, nil},
	}
	for _, tt := range tests {
		got, err := ExprColumns(tt.expr)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExprColumns(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
	if _, err := ExprColumns("a =="); err == nil {
		t.Error("ExprColumns of a broken expression did not fail")
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ByteSize
		out  string
	}{
		{"512MiB", 512 << 20, "512MiB"},
		{"1 GiB", 1 << 30, "1GiB"},
		{"200MB", 200e6, "200000000B"},
		{"64KiB", 64 << 10, "64KiB"},
		{"1000", 1000, "1000B"},
		{"2048", 2048, "2KiB"},
		{"3kB", 3000, "3000B"},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want || got.String() != tt.out {
			t.Errorf("ParseByteSize(%q) = %d (%s), %v; want %d (%s)", tt.in, got, got, err, tt.want, tt.out)
		}
		if back, err := ParseByteSize(got.String()); err != nil || back != got {
			t.Errorf("%s does not read back: %d, %v", got, back, err)
		}
	}
	for _, bad := range []string{"", "-1", "12XB", "1.5GiB", "99999999999999999999GiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) did not fail", bad)
		}
	}
	var cfg struct {
		Max ByteSize `yaml:"max"`
	}
	if err := yaml.Unmarshal([]byte("max: 256MiB"), &cfg); err != nil || cfg.Max != 256<<20 {
		t.Errorf("yaml 256MiB = %d, %v", cfg.Max, err)
	}
	if err := yaml.Unmarshal([]byte("max: 1048576"), &cfg); err != nil || cfg.Max != 1<<20 {
		t.Errorf("yaml 1048576 = %d, %v", cfg.Max, err)
	}
	err := yaml.Unmarshal([]byte("max: lots"), &cfg)
	if te, ok := err.(*yaml.TypeError); !ok || !strings.Contains(te.Error(), `line 1: "lots" is not a size`) {
		t.Errorf("yaml lots = %v, want a *yaml.TypeError naming the line", err)
	}
	out, err := yaml.Marshal(struct {
		Max ByteSize `yaml:"max"`
	}{512 << 20})
	if err != nil || strings.TrimSpace(string(out)) != "max: 512MiB" {
		t.Errorf("marshal = %q, %v", out, err)
	}
}

// TestJSONNullObject: a key that is an object in some records and null in
// others (an OData navigation property without a target) is reachable as
// a nested map in every record's environment, as it would be if it were
// never null.
func TestJSONNullObject(t *testing.T) {
	t.Parallel()
	const doc = `[{"id": "1", "manager": {"email": "boss@x.io"}}, {"id": "2", "manager": null}, {"id": "3", "note": null}]`
	snap, err := readDoc(t, "users.json", doc, Config{Fields: FieldsConfig{ID: "id"}, Active: `manager.email != ""`})
	if err != nil {
		t.Fatal(err)
	}
	if got := activeIDs(snap.Records); !slices.Equal(got, []string{"1"}) {
		t.Errorf("active = %q, want 1", got)
	}
	for i, want := range []string{"boss@x.io", "", ""} {
		env := snap.Records[i].Env()
		m, ok := env["manager"].(map[string]any)
		if !ok || m["email"] != want {
			t.Errorf("record %d: manager = %#v, want a map with email %q", i, env["manager"], want)
		}
		if v, ok := env["note"]; !ok || v != "" {
			t.Errorf("record %d: note = %#v, want \"\" (null, and never an object)", i, v)
		}
	}
	if v, ok := snap.Records[1].Attr("manager"); !ok || v != "" {
		t.Errorf("Attr(manager) = %q, %v", v, ok)
	}
}

// FuzzPath parses arbitrary paths and looks them up in arbitrary valid
// JSON: no panic, and what a path finds is itself one JSON value.
func FuzzPath(f *testing.F) {
	rec := `{"userId": "u1", "manager": {"email": "boss@x.io"}, "empInfo": {"jobInfoNav": {"results": [{"department": "Sales"}]}}, "tags": ["a", {"b": [1, 2]}], "k/ey": null}`
	for _, p := range []string{"manager/email", "/k~1ey", "empInfo/jobInfoNav/results/0/department", "tags/1/b/1", "a//b", "a~2", "~", "0"} {
		f.Add(p, rec)
	}
	f.Add("a", `[1, {"a": "x"}]`)
	f.Add("0/a", `[{"a": "x\"y"}]`)
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := parsePath(path)
		if err != nil {
			return
		}
		if strings.Join(p, "/") == "" && len(p) > 0 {
			t.Fatalf("parsePath(%q) = %q: an empty step", path, p)
		}
		if !json.Valid([]byte(doc)) {
			return
		}
		data := []byte(doc)
		got, found, err := p.extract(&jsonText{data: data, text: doc}, data)
		if err != nil || !found {
			return
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("extract(%q) in %s = %q, not one JSON value", path, doc, got)
		}
	})
}

// FuzzByteSize reads arbitrary sizes: no panic, and a size that reads
// writes back to itself.
func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"512MiB", "1 GiB", "200MB", "64KiB", "1000", "3kB", "-1", "12XB", "99999999999999999999GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d", s, b)
		}
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Fatalf("%q = %d writes as %q, which reads %d, %v", s, b, b, back, err)
		}
	})
}
