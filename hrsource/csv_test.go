package hrsource

import (
	"context"
	"slices"
	"testing"
)

func TestCSV(t *testing.T) {
	t.Parallel()
	base := Config{
		Fields: FieldsConfig{ID: "id", Email: "email", Name: "name"},
		Active: `status == "active"`,
	}
	tests := []struct {
		name    string
		cfg     func(*Config)
		content string
		ids     []string
		active  []string
		origins []string
		check   func(t *testing.T, s *Snapshot)
	}{
		{
			name:    "plain",
			content: "id,email,name,status\n1,a@x.io,Ann,active\n2,b@x.io,Bob,left\n",
			ids:     []string{"1", "2"},
			active:  []string{"1"},
			origins: []string{"hr.csv:2", "hr.csv:3"},
			check: func(t *testing.T, s *Snapshot) {
				r := s.Records[0]
				if r.Email != "a@x.io" || r.Name != "Ann" || r.LoginName != "" {
					t.Errorf("record 1 = %+v", r)
				}
				if v, ok := r.Attr("status"); !ok || v != "active" {
					t.Errorf("Attr(status) = %q, %v", v, ok)
				}
			},
		},
		{
			name:    "values and header trimmed",
			content: " id , email ,name, status \n  1 ,  a@x.io ,Ann,  active \n",
			ids:     []string{"1"},
			active:  []string{"1"},
			check: func(t *testing.T, s *Snapshot) {
				if s.Records[0].Email != "a@x.io" || !slices.Equal(s.Schema.Columns, []string{"id", "email", "name", "status"}) {
					t.Errorf("record = %+v, columns %q", s.Records[0], s.Schema.Columns)
				}
			},
		},
		{
			name:    "excel: BOM, CRLF, quoted field with embedded newline and quotes",
			content: "\uFEFFid,email,name,status,note\r\n1,a@x.io,\"Ann \"\"Nan\"\" Lee\",active,\"two\r\nlines\"\r\n2,b@x.io,Bob,active,\r\n",
			ids:     []string{"1", "2"},
			active:  []string{"1", "2"},
			origins: []string{"hr.csv:2", "hr.csv:4"},
			check: func(t *testing.T, s *Snapshot) {
				if s.Schema.Columns[0] != "id" {
					t.Errorf("first column %q: BOM not stripped", s.Schema.Columns[0])
				}
				if r := s.Records[0]; r.Name != `Ann "Nan" Lee` || r.Values[4] != "two\nlines" {
					t.Errorf("record 1 = %q", r.Values)
				}
			},
		},
		{
			name:    "semicolon delimiter",
			cfg:     func(c *Config) { c.Delimiter = ";" },
			content: "id;email;name;status\n1;a@x.io;Lee, Ann;active\n",
			ids:     []string{"1"},
			active:  []string{"1"},
			check: func(t *testing.T, s *Snapshot) {
				if s.Records[0].Name != "Lee, Ann" {
					t.Errorf("name = %q", s.Records[0].Name)
				}
			},
		},
		{
			name:    "no active expression: everyone active",
			cfg:     func(c *Config) { c.Active = "" },
			content: "id,email,name,status\n1,,,\n2,,,left\n",
			ids:     []string{"1", "2"},
			active:  []string{"1", "2"},
		},
		{
			name:    "header only",
			content: "id,email,name,status\n",
			ids:     []string{},
		},
		{
			name: "multi-valued column and stats",
			cfg: func(c *Config) {
				c.MultiValue = map[string]string{"langs": ";"}
				c.Active = `status == "active" and "fr" in langs`
				c.StatsAttributes = []string{"langs", "dept"}
			},
			content: "id,email,name,status,langs,dept\n1,,,active,en; fr;;,Sales\n2,,,active,fr,Sales\n3,,,active,en,HR\n4,,,left,fr,HR\n",
			ids:     []string{"1", "2", "3", "4"},
			active:  []string{"1", "2"},
			check: func(t *testing.T, s *Snapshot) {
				env := s.Records[0].Env()
				if got, _ := env["langs"].([]string); !slices.Equal(got, []string{"en", "fr"}) {
					t.Errorf("env langs = %#v", env["langs"])
				}
				st := s.Stats
				if st.Records != 4 || st.Active != 2 {
					t.Errorf("stats = %+v", st)
				}
				if st.ValueCounts["langs"]["fr"] != 2 || st.ValueCounts["langs"]["en"] != 1 || st.ValueCounts["dept"]["Sales"] != 2 || len(st.ValueCounts["dept"]) != 1 {
					t.Errorf("value counts = %v", st.ValueCounts)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			snap, err := readDoc(t, "hr.csv", tt.content, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(snap.Records); !slices.Equal(got, tt.ids) {
				t.Errorf("ids = %q, want %q", got, tt.ids)
			}
			if got := activeIDs(snap.Records); !slices.Equal(got, tt.active) {
				t.Errorf("active = %q, want %q", got, tt.active)
			}
			if snap.Stats.Records != len(tt.ids) || snap.Stats.Active != len(tt.active) {
				t.Errorf("stats = %+v", snap.Stats)
			}
			if snap.Stats.HeaderHash != HeaderHash(snap.Schema.Columns) || len(snap.Stats.HeaderHash) != 64 {
				t.Errorf("header hash = %q", snap.Stats.HeaderHash)
			}
			for i, o := range tt.origins {
				if snap.Records[i].Origin != o {
					t.Errorf("record %d origin = %q, want %q", i, snap.Records[i].Origin, o)
				}
			}
			if tt.check != nil {
				tt.check(t, snap)
			}
		})
	}
}

func TestCSVProblems(t *testing.T) {
	t.Parallel()
	base := Config{Fields: FieldsConfig{ID: "id", Email: "email"}}
	tests := []struct {
		name    string
		cfg     func(*Config)
		content string
		want    []want
	}{
		{
			name:    "missing id column",
			content: "ident,email\n1,a@x.io\n",
			want:    []want{{"hr.fields.id", []string{`no column "id"`, "ident, email", "set hr.fields.id"}}},
		},
		{
			name:    "mapping names a column not in the data",
			cfg:     func(c *Config) { c.Fields.Name = "full_name" },
			content: "id,email\n1,a@x.io\n",
			want:    []want{{"hr.fields.name", []string{`"full_name"`, "not in the data"}}},
		},
		{
			name:    "multi_value and stats_attributes name unknown columns",
			cfg:     func(c *Config) { c.MultiValue = map[string]string{"langs": ";"}; c.StatsAttributes = []string{"dept"} },
			content: "id,email\n1,a@x.io\n",
			want: []want{
				{"hr.multi_value", []string{`"langs"`}},
				{"hr.stats_attributes", []string{`"dept"`}},
			},
		},
		{
			name:    "empty id",
			content: "id,email\n1,a@x.io\n  ,b@x.io\n",
			want:    []want{{"hr.csv:3", []string{"empty id", `column "id"`}}},
		},
		{
			name:    "duplicate id names both lines",
			content: "id,email\n7,a@x.io\n8,b@x.io\n7,c@x.io\n",
			want:    []want{{"hr.csv:4", []string{`duplicate id "7"`, "also at hr.csv:2"}}},
		},
		{
			// Increasing ids need no map until the order breaks: the
			// ids before the break still count.
			name:    "duplicate id after increasing ones",
			content: "id,email\n2,a@x.io\n\"\",e@x.io\n10,b@x.io\n11,c@x.io\n3,d@x.io\n10,f@x.io\n4,g@x.io\n3,h@x.io\n",
			want: []want{
				{"hr.csv:3", []string{"empty id"}},
				{"hr.csv:7", []string{`duplicate id "10"`, "also at hr.csv:4"}},
				{"hr.csv:9", []string{`duplicate id "3"`, "also at hr.csv:6"}},
			},
		},
		{
			name:    "wrong column count",
			content: "id,email\n1,a@x.io\n2,b@x.io,extra\n3\n",
			want: []want{
				{"hr.csv:3", []string{"3 fields, but the header has 2"}},
				{"hr.csv:4", []string{"1 fields, but the header has 2"}},
			},
		},
		{
			name:    "invalid UTF-8",
			content: "id,email\n1,a\xff@x.io\n",
			want:    []want{{"hr.csv:2", []string{`column "email" is not valid UTF-8`, "save the file as UTF-8"}}},
		},
		{
			name:    "invalid UTF-8 header",
			content: "id,em\xe9il\n1,a@x.io\n",
			want:    []want{{"hr.csv:1", []string{"header is not valid UTF-8"}}},
		},
		{
			name:    "bare quote",
			content: "id,email\n1,a\"b@x.io\n2,c@x.io\n",
			want:    []want{{"hr.csv:2", []string{"bad CSV", "quote"}}},
		},
		{
			name:    "unterminated quote",
			content: "id,email\n1,\"a@x.io\n2,c@x.io\n",
			want:    []want{{"hr.csv:2-3", []string{"bad CSV"}}},
		},
		{
			name:    "empty file",
			content: "",
			want:    []want{{"hr.csv", []string{"expected a header row"}}},
		},
		{
			name:    "UTF-16",
			content: "\xff\xfei\x00d\x00\n\x00",
			want:    []want{{"hr.csv", []string{"UTF-16", "save it as UTF-8"}}},
		},
		{
			name:    "duplicate column",
			content: "id,email,email\n1,a,b\n",
			want:    []want{{"hr.csv:1", []string{`column "email" appears twice (positions 2 and 3)`}}},
		},
		{
			name:    "active expression names an unknown column",
			cfg:     func(c *Config) { c.Active = `Atrition == "No"` },
			content: "id,email,Attrition\n1,a,No\n",
			want:    []want{{"hr.active", []string{`uses "Atrition"`, "id, email, Attrition"}}},
		},
		{
			name:    "active expression names an unknown column of a header-only file",
			cfg:     func(c *Config) { c.Active = `Atrition == "No"` },
			content: "id,email,Attrition\n",
			want:    []want{{"hr.active", []string{`uses "Atrition"`}}},
		},
		{
			name:    "active expression fails on a record",
			cfg:     func(c *Config) { c.Active = `int(age) > 30` },
			content: "id,email,age\n1,a,40\n2,b,forty\n",
			want:    []want{{"hr.csv:3", []string{"hr.active", "forty"}}},
		},
		{
			name:    "every problem together",
			content: "id,email\n1,a\n,b\n1,c\n2\n3,\xff\n",
			want: []want{
				{"hr.csv:5", []string{"1 fields"}},
				{"hr.csv:6", []string{"UTF-8"}},
				{"hr.csv:3", []string{"empty id"}},
				{"hr.csv:4", []string{`duplicate id "1"`, "hr.csv:2"}},
			},
		},
		{
			name:    "stops at max_errors",
			cfg:     func(c *Config) { c.MaxErrors = 2 },
			content: "id,email\n1\n2\n3\n4\n",
			want: []want{
				{"hr.csv:2", []string{"1 fields"}},
				{"hr.csv:3", []string{"1 fields"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			snap, err := readDoc(t, "hr.csv", tt.content, cfg)
			if snap != nil {
				t.Errorf("got a snapshot of %d records from a bad feed", len(snap.Records))
			}
			checkProblems(t, err, tt.want)
		})
	}
}

// TestIBMExport reads the real IBM HR attrition export (1,470 rows, CRLF).
func TestIBMExport(t *testing.T) {
	t.Parallel()
	src, err := New(Config{
		Type:            TypeCSV,
		Path:            "../testdata/ibm-hr-employee-attrition.csv",
		Fields:          FieldsConfig{ID: "EmployeeNumber"},
		Active:          `Attrition == "No"`,
		StatsAttributes: []string{"Department", "JobRole"},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := snap.Stats
	if st.Records != 1470 || st.Active != 1233 {
		t.Errorf("records %d active %d, want 1470 and 1233", st.Records, st.Active)
	}
	if len(snap.Schema.Columns) != 35 {
		t.Errorf("%d columns, want 35", len(snap.Schema.Columns))
	}
	if len(st.ValueCounts["Department"]) != 3 {
		t.Errorf("departments = %v", st.ValueCounts["Department"])
	}
	sum := 0
	for _, n := range st.ValueCounts["Department"] {
		sum += n
	}
	if sum != 1233 {
		t.Errorf("active per department sum to %d, want 1233", sum)
	}
	first := snap.Records[0]
	if first.ID != "1" || first.Origin != "ibm-hr-employee-attrition.csv:2" || first.Active {
		t.Errorf("first record = %s %s active=%v", first.ID, first.Origin, first.Active)
	}
	if v, _ := first.Attr("Department"); v != "Sales" {
		t.Errorf("first department = %q", v)
	}
}
