package hrsource

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// collector gathers the rows of one read, then maps and validates them into
// a Snapshot. Readers append records whose Values follow the collector's
// columns; finish pads short rows, fills the record fields and checks them.
type collector struct {
	cfg    *Config
	active *activeExpr
	probs  problems

	columns  []string
	colIndex map[string]int
	// headerWhere locates the header in problems about columns.
	headerWhere string

	recs []Record
	// sizeHint is the size of the input in bytes, when known (see presize).
	sizeHint int64
	// pos holds each record's line or index until its Origin is set.
	pos   []int32
	slab  []string
	pairs []kv
	name  []byte
	set   []bool
	// paths are the columns read at a path of each JSON record (hr.columns,
	// and hr.fields values holding a "/").
	paths []pathColumn
	// overlapHint, set when a page repeated ids of an earlier one, ends
	// the "duplicate id" problems of records on different pages.
	overlapHint string
	// valued marks the JSON columns that held something other than null
	// in some record (nil for CSV and Postgres, where every column counts).
	valued []bool
}

// markValued records whether column col held a value other than null.
func (c *collector) markValued(col int, valued bool) {
	for len(c.valued) <= col {
		c.valued = append(c.valued, false)
	}
	if valued {
		c.valued[col] = true
	}
}

// nullOnly names the JSON columns that never held anything but null.
func (c *collector) nullOnly() map[string]bool {
	var out map[string]bool
	for i, v := range c.valued {
		if !v && i < len(c.columns) {
			if out == nil {
				out = map[string]bool{}
			}
			out[c.columns[i]] = true
		}
	}
	return out
}

func newCollector(cfg *Config, active *activeExpr) *collector {
	c := &collector{cfg: cfg, active: active, probs: problems{max: cfg.MaxErrors}, colIndex: map[string]int{}}
	if cfg.jsonFeed() {
		c.paths = cfg.pathColumns()
	}
	return c
}

// values returns room for n values of one record. Rows are carved out of
// larger blocks: one allocation per few hundred records instead of one per
// record.
func (c *collector) values(n int) []string {
	if n > len(c.slab) {
		c.slab = make([]string, max(n, 8192))
	}
	v := c.slab[:n:n]
	c.slab = c.slab[n:]
	return v
}

// presize grows the record slices to the size the whole input will
// probably need, estimated from the bytes the first rows took: appending
// 100,000 records one by one would copy them (and leave garbage) a dozen
// times over.
func (c *collector) presize(consumed int64) {
	if c.sizeHint <= 0 || consumed <= 0 {
		return
	}
	n := len(c.recs)
	want := int(float64(c.sizeHint)/float64(consumed)*float64(n)*1.02) + 16
	// Short first rows could promise millions of records: bound the bet
	// (appending grows the slices further if need be).
	want = min(want, 256*n)
	if want > cap(c.recs) {
		c.recs = slices.Grow(c.recs, want-n)
		c.pos = slices.Grow(c.pos, want-n)
	}
}

// sized sizes the record slices after a reader added its n-th record,
// consumed bytes into its input: for the whole input (presize) after the
// first sampleRows records, and again whenever the records fill that
// room, from the many more rows read by then (the first estimate is
// bounded). Doubling instead would copy 1,000,000 records of 160 bytes
// four times over, each time into fresh memory.
func (c *collector) sized(n int, consumed int64) {
	if n == sampleRows || n > sampleRows && len(c.recs) == cap(c.recs) {
		c.presize(consumed)
	}
}

// column returns the index of column name, adding it if new.
func (c *collector) column(name string) int {
	if i, ok := c.colIndex[name]; ok {
		return i
	}
	c.colIndex[name] = len(c.columns)
	c.columns = append(c.columns, name)
	return len(c.columns) - 1
}

// add appends a record whose origin is format(pos), set by setOrigins.
func (c *collector) add(values []string, pos int) {
	if len(c.recs) == cap(c.recs) {
		// Double, where append grows large slices by a quarter: a feed of
		// many pages (not presized) would copy its records a dozen times.
		c.recs = slices.Grow(c.recs, max(len(c.recs), 1024))
		c.pos = slices.Grow(c.pos, max(len(c.pos), 1024))
	}
	c.recs = append(c.recs, Record{Values: values})
	c.pos = append(c.pos, int32(pos))
}

// mark is what a collector held at a point of a read, for undo.
type mark struct {
	recs, probs, columns int
	truncated            bool
	valued               []bool
	paths                []pathColumn
}

func (c *collector) mark() mark {
	return mark{
		recs: len(c.recs), probs: len(c.probs.list), columns: len(c.columns), truncated: c.probs.truncated,
		valued: slices.Clone(c.valued), paths: slices.Clone(c.paths),
	}
}

// undo forgets what was read since m: the records, problems and columns
// added, and which columns held values and which paths reached some.
func (c *collector) undo(m mark) {
	c.recs, c.pos = c.recs[:m.recs], c.pos[:m.recs]
	c.probs.list, c.probs.truncated = c.probs.list[:m.probs], m.truncated
	for _, name := range c.columns[m.columns:] {
		delete(c.colIndex, name)
	}
	c.columns = c.columns[:m.columns]
	c.valued = m.valued
	copy(c.paths, m.paths)
}

// setOrigins sets the Origin of the records added since from. The origins
// are written into one buffer and sliced, rather than one string each;
// each is a string of the buffer's bytes as written (no copy of the
// buffer, nor a list of where each ends: at 1,000,000 records, 20 MB less
// to allocate). Bytes once written are never written again: when the
// buffer grows, the origins set before keep the old one.
func (c *collector) setOrigins(from int, format func(dst []byte, pos int) []byte) {
	pos := c.pos[from:]
	if len(pos) == 0 {
		return
	}
	// The last origin is about the longest: size the buffer from it.
	buf := make([]byte, 0, len(pos)*(len(format(nil, int(pos[len(pos)-1])))+1))
	for i, p := range pos {
		start := len(buf)
		buf = format(buf, int(p))
		if len(buf) > start {
			c.recs[from+i].Origin = unsafe.String(&buf[start], len(buf)-start)
		}
	}
}

// finish maps the collected rows onto records, validates them and computes
// the statistics. source names the feed in the error.
func (c *collector) finish(source string) (*Snapshot, error) {
	schema := newSchema(c.columns, c.cfg.MultiValue, c.nullOnly())
	c.checkColumns(schema)
	if c.probs.full() {
		return nil, c.probs.err(source)
	}
	var eval *evaluator
	if c.active != nil && len(schema.Columns) > 0 {
		var unknown []string
		eval, unknown = newEvaluator(c.active, schema)
		for _, name := range unknown {
			c.probs.add("hr.active", "uses %q, which is not a %s of the data (%ss: %s): fix the name in the expression", name, c.fieldWord(), c.fieldWord(), columnList(schema.Columns))
		}
		if len(unknown) > 0 {
			eval = nil
		}
	}
	snap := &Snapshot{Schema: schema, Records: c.recs, Dated: c.cfg.Dated()}
	if len(c.recs) == 0 {
		if err := c.probs.err(source); err != nil {
			return nil, err
		}
		snap.Stats = stats(schema, nil, c.cfg.StatsAttributes)
		return snap, nil
	}
	f := c.cfg.Fields
	idCol := schema.Index(f.ID)
	if idCol < 0 || !c.pathFound(f.ID) {
		return nil, c.probs.err(source)
	}
	emailCol, loginCol, nameCol := schema.Index(f.Email), schema.Index(f.LoginName), schema.Index(f.Name)
	empCol := schema.Index(f.EmployeeID)

	// Ids in increasing order (shorter first, then as text: a feed
	// sorted by a numeric id, or by one of fixed width) are unique
	// without a map: one is made only if the order breaks, of the records
	// before and after that.
	var seen map[string]int32
	var prev string
	n := len(schema.Columns)
recs:
	for i := range c.recs {
		r := &c.recs[i]
		r.Schema = schema
		if len(r.Values) < n {
			r.Values = append(r.Values[:len(r.Values):len(r.Values)], make([]string, n-len(r.Values))...)
		}
		r.ID = r.Values[idCol]
		if emailCol >= 0 {
			r.Email = r.Values[emailCol]
		}
		if loginCol >= 0 {
			r.LoginName = r.Values[loginCol]
		}
		if nameCol >= 0 {
			r.Name = r.Values[nameCol]
		}
		if empCol >= 0 {
			r.EmployeeID = r.Values[empCol]
		}
		if r.ID == "" {
			if !c.probs.add(r.Origin, "empty id (%s %q): every record needs one; fix the export or leave the row out", c.fieldWord(), f.ID) {
				break
			}
			continue
		}
		switch {
		case seen == nil && (prev == "" || len(prev) < len(r.ID) || len(prev) == len(r.ID) && prev < r.ID):
			prev = r.ID
		default:
			if seen == nil {
				seen = c.seenIDs(i)
			}
			if first, dup := seen[r.ID]; dup {
				hint := ""
				if page, _, _ := strings.Cut(r.Origin, ":"); c.overlapHint != "" && !strings.HasPrefix(c.recs[first].Origin, page+":") {
					hint = c.overlapHint
				}
				if !c.probs.add(r.Origin, "duplicate id %q, also at %s: ids must be unique; fix the export%s", r.ID, c.recs[first].Origin, hint) {
					break recs
				}
				continue
			}
			seen[r.ID] = int32(i)
		}
		r.Active = true
		if eval != nil {
			active, err := eval.eval(r)
			if err != nil {
				// expr's errors repeat the source with a caret on further
				// lines: the first says it all here.
				msg, _, _ := strings.Cut(err.Error(), "\n")
				if !c.probs.add(r.Origin, "hr.active %q fails on this record: %s: fix the expression or the data", c.active.source, msg) {
					break
				}
				continue
			}
			r.Active = active
		}
	}
	c.readDates(schema)
	if err := c.probs.err(source); err != nil {
		return nil, err
	}
	snap.Stats = stats(schema, c.recs, c.cfg.StatsAttributes)
	return snap, nil
}

// seenIDs maps the ids of the records before the i-th (unique, in
// increasing order) to their index, for finish to go on checking with.
func (c *collector) seenIDs(i int) map[string]int32 {
	seen := make(map[string]int32, len(c.recs))
	for j := range c.recs[:i] {
		if id := c.recs[j].ID; id != "" {
			seen[id] = int32(j)
		}
	}
	return seen
}

// fieldWord is how the data calls a column: JSON speaks of fields.
func (c *collector) fieldWord() string {
	switch c.cfg.Type {
	case TypeJSON, TypeJSONL:
		return "field"
	case TypeHTTP:
		if c.cfg.Format == "json" {
			return "field"
		}
	}
	return "column"
}

// checkColumns reports configured names (fields, multi_value,
// stats_attributes) that the data does not have. A feed without any record
// and without a header (an empty JSON array) has no columns to check.
func (c *collector) checkColumns(s *Schema) {
	if len(s.Columns) == 0 && len(c.recs) == 0 {
		return
	}
	word := c.fieldWord()
	seen := map[string]int{}
	for i, col := range s.Columns {
		if j, dup := seen[col]; dup {
			c.probs.add(cmp.Or(c.headerWhere, "data"), "%s %q appears twice (positions %d and %d): rename one, a %s must be unambiguous", word, col, j+1, i+1, word)
		}
		seen[col] = i
	}
	f := c.cfg.Fields
	if s.Index(f.ID) < 0 {
		c.probs.add("hr.fields.id", "the data has no %s %q for the id (%ss: %s): set hr.fields.id to the %s holding each person's unique id", word, f.ID, word, columnList(s.Columns), word)
	}
	for _, m := range []struct{ key, col string }{{"email", f.Email}, {"login_name", f.LoginName}, {"name", f.Name}, {"employee_id", f.EmployeeID}} {
		if m.col != "" && s.Index(m.col) < 0 {
			c.probs.add("hr.fields."+m.key, "names %s %q, which is not in the data (%ss: %s): fix the name or leave it empty", word, m.col, word, columnList(s.Columns))
		}
	}
	if len(c.recs) > 0 {
		for _, p := range c.paths {
			if !p.found {
				c.probs.add(p.key, "the path %q reaches nothing in any record (%ss of the first: %s): fix the path against a record of the feed", p.name, word, columnList(c.recordKeys()))
			}
		}
	}
	for _, col := range sortedKeys(c.cfg.MultiValue) {
		if s.Index(col) < 0 {
			c.probs.add("hr.multi_value", "names %s %q, which is not in the data: fix the name or remove it", word, col)
		}
	}
	for _, col := range c.cfg.StatsAttributes {
		if s.Index(col) < 0 {
			c.probs.add("hr.stats_attributes", "names %s %q, which is not in the data: fix the name or remove it", word, col)
		}
	}
}

// pathFound says whether the column named col, when it is read at a path,
// was found in some record (any other column counts as found).
func (c *collector) pathFound(col string) bool {
	for _, p := range c.paths {
		if p.name == col {
			return p.found
		}
	}
	return true
}

// recordKeys lists the columns of the first record that are not path
// columns, for the hint when a path reaches nothing.
func (c *collector) recordKeys() []string {
	var out []string
	for i, col := range c.columns {
		if i < len(c.recs[0].Values) && !slices.ContainsFunc(c.paths, func(p pathColumn) bool { return p.name == col }) {
			out = append(out, col)
		}
	}
	return out
}

// columnList abbreviates a column list for an error message.
func columnList(cols []string) string {
	const show = 12
	if len(cols) <= show {
		return strings.Join(cols, ", ")
	}
	return fmt.Sprintf("%s, … %d more", strings.Join(cols[:show], ", "), len(cols)-show)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stats summarises the records of a snapshot.
func stats(s *Schema, recs []Record, attrs []string) Stats {
	st := Stats{Records: len(recs), HeaderHash: HeaderHash(s.Columns)}
	cols := make([]int, 0, len(attrs))
	if len(attrs) > 0 {
		st.ValueCounts = make(map[string]map[string]int, len(attrs))
		for _, a := range attrs {
			st.ValueCounts[a] = map[string]int{}
			cols = append(cols, s.Index(a))
		}
	}
	for i := range recs {
		r := &recs[i]
		if !r.Active {
			continue
		}
		st.Active++
		for j, col := range cols {
			if col < 0 {
				continue
			}
			counts := st.ValueCounts[attrs[j]]
			v := r.Values[col]
			if sep := s.sep(col); sep != "" {
				for part := range strings.SplitSeq(v, sep) {
					if part = strings.TrimSpace(part); part != "" {
						counts[part]++
					}
				}
				continue
			}
			counts[v]++
		}
	}
	return st
}

// HeaderHash is the SHA-256 (hex) of the sorted column names, one per line.
func HeaderHash(columns []string) string {
	sorted := slices.Clone(columns)
	slices.Sort(sorted)
	h := sha256.New()
	for _, c := range sorted {
		h.Write([]byte(c))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
