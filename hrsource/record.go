// Package hrsource reads staffing records from the places HR data lives (CSV,
// JSON and JSON Lines files, HTTP endpoints, a Postgres query), maps their
// columns onto skillsync's record model and validates them.
package hrsource

import "context"

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
}

// NewSchema builds a schema over columns; multi names the multi-valued ones.
func NewSchema(columns []string, multi map[string]string) *Schema {
	s := &Schema{Columns: columns, Multi: multi, index: make(map[string]int, len(columns))}
	for i, c := range columns {
		if _, dup := s.index[c]; !dup {
			s.index[c] = i
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
	// Active is the result of the hr.active expression (true when none is set).
	Active bool
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
