package hrsource

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/expr-lang/expr"
)

func TestEnv(t *testing.T) {
	t.Parallel()
	s := NewSchema([]string{"id", "langs", "work.email", "work.site.city", "a", "a.b"}, map[string]string{"langs": ";"})
	r := Record{Schema: s, Values: []string{"1", " en ;; fr ", "x@y.io", "Paris", "top", "sub"}}
	want := map[string]any{
		"id":             "1",
		"langs":          []string{"en", "fr"},
		"work.email":     "x@y.io",
		"work.site.city": "Paris",
		"work":           map[string]any{"email": "x@y.io", "site": map[string]any{"city": "Paris"}},
		"a":              "top", // a column: "a.b" is not nested under it
		"a.b":            "sub",
	}
	if got := r.Env(); !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %#v\nwant %#v", got, want)
	}
	reused := map[string]any{"stale": 1}
	if got := r.EnvInto(reused); !reflect.DeepEqual(got, want) {
		t.Errorf("EnvInto() = %#v", got)
	}
	// Short Values (a record built by hand) read as empty attributes.
	short := Record{Schema: s, Values: []string{"2"}}
	if env := short.Env(); env["work.email"] != "" || len(env["langs"].([]string)) != 0 {
		t.Errorf("short record env = %#v", env)
	}
	// The environment works in expressions, nested paths included.
	for src, wantOut := range map[string]bool{
		`work.email endsWith "@y.io" and work.site.city == "Paris"`: true,
		`"fr" in langs and len(langs) == 2`:                         true,
		`$env["a.b"] == "sub" and a == "top"`:                       true,
		`id == "2"`:                                                 false,
	} {
		out, err := expr.Eval(src, r.Env())
		if err != nil || out != wantOut {
			t.Errorf("%s = %v, %v; want %v", src, out, err, wantOut)
		}
	}
}

func TestSplitMulti(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"":              {},
		" ; ;":          {},
		"a":             {"a"},
		" a ; b;;c ;":   {"a", "b", "c"},
		"Sales ; Ops ;": {"Sales", "Ops"},
	}
	for in, want := range tests {
		if got := SplitMulti(in, ";"); !slices.Equal(got, want) || got == nil {
			t.Errorf("SplitMulti(%q) = %#v, want %q", in, got, want)
		}
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src   string
		names []string
		whole bool
	}{
		{`Attrition == "No"`, []string{"Attrition"}, false},
		{`let d = Department; d == "Sales" and Age > 30`, []string{"Age", "Department"}, false},
		{`all(Languages, # != "") and work.email != ""`, []string{"Languages", "work"}, false},
		{`$env["Job Role"] == "x"`, nil, true},
		{`lower(Name) startsWith "a"`, []string{"Name"}, false},
	}
	for _, tt := range tests {
		a, err := compileActive(tt.src, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if !slices.Equal(a.names, tt.names) || a.whole != tt.whole {
			t.Errorf("%s: names %q whole %v, want %q %v", tt.src, a.names, a.whole, tt.names, tt.whole)
		}
	}
}

// TestEvaluatorMatchesEnv checks that the small environment the evaluator
// builds gives the same answers as the full Record.Env.
func TestEvaluatorMatchesEnv(t *testing.T) {
	t.Parallel()
	cfg := Config{Type: TypeCSV, Fields: FieldsConfig{ID: "EmployeeNumber"}, MultiValue: map[string]string{"JobRole": " "}}
	snap, err := ReadFile(context.Background(), "../testdata/ibm-hr-employee-attrition.csv", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`Attrition == "No"`,
		`Department == "Sales" and int(Age) > 40`,
		`"Manager" in JobRole or OverTime == "Yes"`,
		`$env["Attrition"] == "No"`,
		`let a = int(Age); a % 2 == 0`,
		// A let that shadows the attribute it is computed from still
		// reads the attribute.
		`let Department = lower(Department); Department == "sales"`,
		`let Age = int(Age); Age > 40 and Attrition == "No"`,
	} {
		a, err := compileActive(src, cfg.MultiValue)
		if err != nil {
			t.Fatal(err)
		}
		ev, unknown := newEvaluator(a, snap.Schema)
		if len(unknown) > 0 {
			t.Fatalf("%s: unknown %q", src, unknown)
		}
		small, full := 0, 0
		for i := range snap.Records {
			r := &snap.Records[i]
			got, err := ev.eval(r)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			want, err := expr.Run(a.program, r.Env())
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if got {
				small++
			}
			if want == true {
				full++
			}
		}
		if small != full || small == 0 {
			t.Errorf("%s: %d active with the small env, %d with Env()", src, small, full)
		}
	}
}

// TestActiveResultsReused checks that the outcomes reused by the values an
// expression reads are those of evaluating it, errors included, and that
// an expression reading the clock is evaluated every time.
func TestActiveResultsReused(t *testing.T) {
	t.Parallel()
	s := NewSchema([]string{"id", "status", "age", "langs"}, map[string]string{"langs": ";"})
	var recs []Record
	for i, row := range [][]string{{"1", "active", "30", "en"}, {"2", "gone", "x", "fr"}, {"3", "active", "30", "en"}, {"4", "active", "x", "en;fr"},
		{"5", "gone", "x", "fr"}, {"6", "active", "7", " en ; fr "}, {"7", "active", "x", "en;fr"}, {"8"}} {
		recs = append(recs, Record{ID: fmt.Sprint(i + 1), Schema: s, Values: row})
	}
	for _, src := range []string{`status == "active" and int(age) > 10`, `"fr" in langs or status == "gone"`} {
		a, err := compileActive(src, s.Multi)
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := newEvaluator(a, s)
		if ev.results == nil {
			t.Fatalf("%s: outcomes not reused", src)
		}
		fresh, _ := newEvaluator(a, s)
		fresh.results = nil
		for range 2 {
			for i := range recs {
				got, gotErr := ev.eval(&recs[i])
				want, wantErr := fresh.eval(&recs[i])
				if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Errorf("%s on %v: %v, %v; want %v, %v", src, recs[i].Values, got, gotErr, want, wantErr)
				}
			}
		}
	}
	a, err := compileActive(`now().Year() > 2000 and status == "active"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev, _ := newEvaluator(a, s); ev.results != nil {
		t.Error("an expression reading now() reuses outcomes")
	}
}
