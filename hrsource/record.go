// Package hrsource reads staffing records from the places HR data lives (CSV,
// JSON and JSON Lines files, HTTP endpoints, a Postgres query), maps their
// columns onto skillsync's record model and validates them.
//
// In the house (README, Layout; e2e/layout_test.go), it imports internal/secret and internal/jsonscan; never liveperson, store or sync.
package hrsource

import (
	"context"
	"slices"
	"strings"
)

// Schema describes the columns shared by every record of one read. Records
// keep their values in a slice indexed by the schema, which keeps 100,000
// records of 35 columns cheap to hold.
type Schema struct {
	// Columns are the attribute names in source order (CSV header, or the
	// union of JSON keys / dotted paths in first-seen order).
	Columns []string
	// Multi maps a multi-valued column to its separator (config hr.multi_value).
	Multi map[string]string

	index map[string]int
	// seps holds each column's multi-value separator ("" for single-valued).
	seps []string
	// nest holds, for a dotted column whose first part is not itself a
	// column (or is an object column, see object), the parts under which
	// Env also nests its value.
	nest [][]string
	// object marks the columns Env leaves out because they stand for a
	// nested object: a JSON key that was null in every record that had it
	// and an object in others (an OData navigation property that is
	// sometimes null), whose value Env gives as the nested map.
	object []bool
}

// NewSchema builds a schema over columns; multi names the multi-valued ones.
func NewSchema(columns []string, multi map[string]string) *Schema {
	return newSchema(columns, multi, nil)
}

// newSchema is NewSchema where nullOnly names the JSON columns that never
// held anything but null.
func newSchema(columns []string, multi map[string]string, nullOnly map[string]bool) *Schema {
	s := &Schema{Columns: columns, Multi: multi, index: make(map[string]int, len(columns))}
	for i, c := range columns {
		if _, dup := s.index[c]; !dup {
			s.index[c] = i
		}
	}
	s.seps = make([]string, len(columns))
	s.nest = make([][]string, len(columns))
	for i, c := range columns {
		s.seps[i] = multi[c]
		if dot := strings.IndexByte(c, '.'); dot > 0 {
			if j, isCol := s.index[c[:dot]]; !isCol || nullOnly[c[:dot]] {
				s.nest[i] = strings.Split(c, ".")
				if isCol {
					if s.object == nil {
						s.object = make([]bool, len(columns))
					}
					s.object[j] = true
				}
			}
		}
	}
	return s
}

// Index returns the position of column name, or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Record is one staff member.
type Record struct {
	ID        string
	Email     string
	LoginName string
	Name      string
	// EmployeeID is the value of hr.fields.employee_id: assignments send it
	// back as the LivePerson user's employeeId, which reads mask.
	EmployeeID string
	// Active is the result of the hr.active expression (true when none is set).
	Active bool
	// Start and End are hr.fields.start_date and end_date (0: none; End
	// is the last day in force); DateProblem says why they could not be
	// read (see InForce).
	Start, End Date
	// StaleEnd is an end date before the start date, ignored (End is 0):
	// a rehire's record left with the previous employment's termination.
	// (Beside the other dates, where it takes no room of its own: a
	// Record is 160 bytes, not 168.)
	StaleEnd    Date
	DateProblem string
	// Origin says where the record came from, for error messages:
	// "hr.csv:12", "report.json: Report_Entry[41]", "query row 7".
	Origin string

	Schema *Schema
	// Values holds the raw (trimmed) value of each schema column.
	Values []string
}

// Attr returns the raw value of attribute name and whether the column exists.
func (r *Record) Attr(name string) (string, bool) {
	i := r.Schema.Index(name)
	if i < 0 || i >= len(r.Values) {
		return "", false
	}
	return r.Values[i], true
}

// Source reads every record of an HR feed. A bad feed is an error (a
// *ValidationError listing the problems), never a partial result.
type Source interface {
	Read(ctx context.Context) (*Snapshot, error)
}

// Snapshot is one complete, validated read of a source.
type Snapshot struct {
	Schema  *Schema
	Records []Record
	Stats   Stats
	// Dated is set when hr.fields maps a start or an end date.
	Dated bool
}

// Stats summarise a snapshot for the source-health guard.
type Stats struct {
	Records int `json:"records"`
	Active  int `json:"active"`
	// ValueCounts counts active records per value of the attributes of
	// interest (attribute → value → count).
	ValueCounts map[string]map[string]int `json:"value_counts,omitempty"`
	// HeaderHash is a SHA-256 (hex) of the sorted column names: a changed
	// export layout shows up as a changed hash.
	HeaderHash string `json:"header_hash"`
}

// Env returns the environment of the record for expressions (hr.active,
// rule `when`) and templates (rule names): every attribute by column name,
// a string, or a []string for multi-valued columns (split on the separator,
// trimmed, empty values dropped). A dotted column such as "work.email" (a
// flattened JSON object) is also reachable as nested maps (work.email in
// expressions, {{ .work.email }} in templates) unless its first part is a
// column itself. Nothing else is added, so no attribute is ever shadowed.
func (r *Record) Env() map[string]any {
	env := make(map[string]any, len(r.Schema.Columns))
	r.fillEnv(env, nil)
	return env
}

// EnvInto is Env writing into env, which it clears first: a caller
// evaluating many records can reuse one map instead of allocating one per
// record. A nil env gets a new map.
func (r *Record) EnvInto(env map[string]any) map[string]any {
	if env == nil {
		return r.Env()
	}
	clear(env)
	r.fillEnv(env, nil)
	return env
}

// EnvColumns returns the columns that the environment names (attributes
// read by an expression or a template, see Env) stand for, in schema
// order: the column of each name, and the dotted columns nested under it
// (work.email under work). unknown are the names that stand for none.
func (s *Schema) EnvColumns(names []string) (cols []int, unknown []string) {
	cols = []int{}
	for _, name := range names {
		found := false
		for i, col := range s.Columns {
			if col == name || (strings.HasPrefix(col, name) && len(col) > len(name) && col[len(name)] == '.') {
				if !slices.Contains(cols, i) {
					cols = append(cols, i)
				}
				found = true
			}
		}
		if !found {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(cols)
	return cols, unknown
}

// Plain returns the column whose value Env gives under name as it is: the
// only column of that name, which no nested object stands in for. Its
// entry is the record's value (Values[i], "" past their end), or for a
// multi-valued column (sep set) SplitMulti of it.
func (s *Schema) Plain(name string) (i int, sep string, ok bool) {
	i = s.Index(name)
	if i < 0 || slices.Index(s.Columns[i+1:], name) >= 0 || s.object != nil && s.object[i] {
		return -1, "", false
	}
	return i, s.sep(i), true
}

// EnvColumnsInto is EnvInto limited to the entries of cols (from
// EnvColumns; nil: all): what Env gives for the names cols stand for,
// without the boxing of every other column's value. A caller evaluating
// expressions and templates that read a few attributes of 100,000
// records builds a small map per record instead of a full one.
func (r *Record) EnvColumnsInto(env map[string]any, cols []int) map[string]any {
	if env == nil {
		env = make(map[string]any, max(len(cols), 1))
	} else {
		clear(env)
	}
	r.fillEnv(env, cols)
	return env
}

// fillEnv sets the entries of the given columns (nil: all) in env.
func (r *Record) fillEnv(env map[string]any, cols []int) {
	if cols == nil {
		for i := range r.Schema.Columns {
			r.setEnv(env, i)
		}
		return
	}
	for _, i := range cols {
		r.setEnv(env, i)
	}
}

func (r *Record) setEnv(env map[string]any, i int) {
	s := r.Schema
	if s.object != nil && s.object[i] {
		return // a null object: the nested map stands for it
	}
	var v string
	if i < len(r.Values) {
		v = r.Values[i]
	}
	var value any = v
	if sep := s.sep(i); sep != "" {
		value = SplitMulti(v, sep)
	}
	env[s.Columns[i]] = value
	if i < len(s.nest) && s.nest[i] != nil {
		setNested(env, s.nest[i], value)
	}
}

// setNested stores value under path, creating maps on the way; a path
// blocked by a non-map value is left alone.
func setNested(env map[string]any, path []string, value any) {
	for _, p := range path[:len(path)-1] {
		next, ok := env[p].(map[string]any)
		if !ok {
			if _, taken := env[p]; taken {
				return
			}
			next = make(map[string]any, 4)
			env[p] = next
		}
		env = next
	}
	last := path[len(path)-1]
	if _, isMap := env[last].(map[string]any); !isMap {
		env[last] = value
	}
}

// sep returns the multi-value separator of column i ("" if single-valued).
func (s *Schema) sep(i int) string {
	if s.seps != nil {
		return s.seps[i]
	}
	return s.Multi[s.Columns[i]]
}

// SplitMulti splits a multi-valued attribute on sep, trims each value and
// drops the empty ones.
func SplitMulti(v, sep string) []string {
	n := 0
	for part := range strings.SplitSeq(v, sep) {
		if strings.TrimSpace(part) != "" {
			n++
		}
	}
	if n == 0 {
		return []string{}
	}
	out := make([]string, 0, n)
	for part := range strings.SplitSeq(v, sep) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
