package hrsource

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/skillsync/skillsync/internal/jsonscan"
)

// A path reaches a value nested in a JSON record, such as an OData
// navigation property (manager/email) or one item of a list
// (empInfo/jobInfoNav/results/0/department). Its syntax is JSON Pointer's
// (RFC 6901) without the leading slash: steps separated by "/", each an
// object key or, on an array, a 0-based index; "~1" stands for a "/" and
// "~0" for a "~" inside a key. A leading "/" is allowed, so
// "/customFood~1drink" names the top-level key "customFood/drink".
//
// In hr.fields (JSON sources only), a value containing "/" is a path; a
// value without one is a column name as before (a flattened nested object
// is also reachable by its dotted name, e.g. manager.email). In
// hr.columns, every value is a path and the key names the column it
// becomes, which rules, hr.active and hr.multi_value then use like any
// other column.

// fieldPath is a parsed path.
type fieldPath []string

// parsePath parses a path; it fails on an empty step or a "~" not
// followed by 0 or 1.
func parsePath(s string) (fieldPath, error) {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return nil, errors.New("empty path")
	}
	steps := strings.Split(s, "/")
	for i, step := range steps {
		if step == "" {
			return nil, fmt.Errorf("step %d of %q is empty", i+1, s)
		}
		if !strings.Contains(step, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(step); j++ {
			if step[j] != '~' {
				b.WriteByte(step[j])
				continue
			}
			if j+1 == len(step) || (step[j+1] != '0' && step[j+1] != '1') {
				return nil, fmt.Errorf("%q: \"~\" must be followed by 0 (for ~) or 1 (for /)", step)
			}
			if step[j+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			j++
		}
		steps[i] = b.String()
	}
	return fieldPath(steps), nil
}

// isPath says whether a column reference in hr.fields is a path.
func isPath(s string) bool { return strings.Contains(s, "/") }

// index returns the step as an array index, if it is one.
func (p fieldPath) index(i int) (int, bool) {
	s := p[i]
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// odata is the path as an OData v2 $select item: the JSON wrappers of
// to-many navigation properties ("results" followed by an index) and the
// indexes themselves are not part of the model.
func (p fieldPath) odata() []string {
	out := make([]string, 0, len(p))
	for i := range p {
		if _, ok := p.index(i); ok {
			continue
		}
		if p[i] == "results" && i+1 < len(p) {
			if _, ok := p.index(i + 1); ok {
				continue
			}
		}
		out = append(out, p[i])
	}
	return out
}

// pathColumn is a column whose value is read at a path of each record.
type pathColumn struct {
	name string
	// key is the config key that declared it, for problems
	// ("hr.columns.Department", "hr.fields.email").
	key  string
	path fieldPath
	// col is its index among the collector's columns (-1 until the first
	// record).
	col int
	// found is set once the path reached a value in some record.
	found bool
}

// extract returns the JSON text at the path of the record rec, a slice of
// t's data, or false when the record has nothing there.
func (p fieldPath) extract(t *jsonText, rec []byte) (string, bool, error) {
	sc := jsonscan.Scanner{Data: rec}
	for i, step := range p {
		var found bool
		var err error
		switch sc.Peek() {
		case '{':
			found, err = findKey(&sc, t, step)
		case '[':
			if n, ok := p.index(i); ok {
				found, err = findIndex(&sc, n)
			}
		}
		if err != nil || !found {
			return "", false, err
		}
	}
	v, err := sc.Value()
	if err != nil {
		return "", false, err
	}
	return t.str(v), true, nil
}

// errFound stops a walk at what it looked for.
var errFound = errors.New("found")

// findKey moves the scanner from an object's '{' to the value of key.
func findKey(sc *jsonscan.Scanner, t *jsonText, key string) (bool, error) {
	err := sc.ObjectAt(func(raw []byte, plain bool) error {
		if plain {
			if string(raw[1:len(raw)-1]) == key {
				return errFound
			}
		} else if k, err := t.key(raw, false); err == nil && k == key {
			return errFound
		}
		_, err := sc.Value()
		return err
	})
	if err == errFound {
		return true, nil
	}
	return false, err
}

// findIndex moves the scanner from an array's '[' to its n-th item.
func findIndex(sc *jsonscan.Scanner, n int) (bool, error) {
	i := 0
	err := sc.ArrayAt(func() error {
		if i == n {
			return errFound
		}
		i++
		_, err := sc.Value()
		return err
	})
	if err == errFound {
		return true, nil
	}
	return false, err
}

// pathValue renders the JSON text found at a path as a column value: as
// jsonValue does, and an object as compact JSON.
func (c *collector) pathValue(text, col string) (string, error) {
	if text[0] == '{' {
		return compactJSON(text), nil
	}
	return c.jsonValue(text, col)
}

// appendPaths appends the value of every path column found in the record
// rec (a slice of t's data) to pairs.
func (c *collector) appendPaths(t *jsonText, rec []byte, pairs []kv) ([]kv, error) {
	for i := range c.paths {
		p := &c.paths[i]
		if p.col < 0 {
			p.col = c.column(p.name)
		}
		raw, ok, err := p.path.extract(t, rec)
		if err != nil {
			return pairs, err
		}
		if !ok {
			continue
		}
		p.found = true
		v, err := c.pathValue(raw, p.name)
		if err != nil {
			return pairs, err
		}
		pairs = append(pairs, kv{col: p.col, value: strings.TrimSpace(v)})
	}
	return pairs, nil
}

// pathKey returns the config key of the path column at index col, or "".
func (c *collector) pathKey(col int) string {
	for _, p := range c.paths {
		if p.col == col {
			return p.key
		}
	}
	return ""
}
