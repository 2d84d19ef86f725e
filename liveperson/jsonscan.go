package liveperson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/skillsync/skillsync/internal/jsonscan"
)

// The Skills API returns every skill with select=$all, and an account may
// hold thousands: decoding through map[string]json.RawMessage with
// encoding/json costs several times the 30 ms budget for 10,000 skills,
// mostly in allocations and in the double scan encoding/json does. The
// codec reads responses with internal/jsonscan's validating scanner, which
// hands out raw value slices that the codecs below interpret tolerantly
// (numbers or numeric strings, true or "true").

// scanner is the codec's view of a jsonscan.Scanner: data and pos as the
// codec reads them, the walk itself jsonscan's. Each method carries the
// state into a jsonscan.Scanner and back, and into the codec's callbacks
// and back, so that pos is current wherever the codec looks at it.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

func (s *scanner) js() jsonscan.Scanner {
	return jsonscan.Scanner{Data: s.data, Pos: s.pos, Depth: s.depth}
}

func (s *scanner) set(js *jsonscan.Scanner) { s.pos, s.depth = js.Pos, js.Depth }

// peek returns the next non-space byte, or 0 at end of input.
func (s *scanner) peek() byte {
	js := s.js()
	c := js.Peek()
	s.set(&js)
	return c
}

// value skips one JSON value, validating it, and returns its raw bytes.
func (s *scanner) value() ([]byte, error) {
	js := s.js()
	v, err := js.Value()
	s.set(&js)
	return v, err
}

func (s *scanner) literal(lit string) error {
	js := s.js()
	err := js.Literal(lit)
	s.set(&js)
	return err
}

// object walks the members of the object at the current position, calling
// fn with each raw key (quotes included) and raw value. plainKey reports a
// key without escapes or non-ASCII bytes, usable as is.
func (s *scanner) object(fn func(key []byte, plainKey bool, val []byte) error) error {
	js := s.js()
	err := js.Object(fn)
	s.set(&js)
	return err
}

// array walks the elements of the array at the current position, calling
// fn with each raw element.
func (s *scanner) array(fn func(elem []byte) error) error {
	js := s.js()
	err := js.Array(fn)
	s.set(&js)
	return err
}

// arrayAt walks an array, calling fn positioned at each element; fn must
// consume exactly one value (through s).
func (s *scanner) arrayAt(fn func() error) error {
	js := s.js()
	err := js.ArrayAt(func() error {
		s.set(&js)
		err := fn()
		js.Pos, js.Depth = s.pos, s.depth
		return err
	})
	s.set(&js)
	return err
}

// end checks that nothing but white space follows the top-level value.
func (s *scanner) end() error {
	js := s.js()
	err := js.End()
	s.set(&js)
	return err
}

// Value interpretation. raw is always a complete, validated JSON value.

var errNotNumber = errors.New("not a number")

// isNull reports whether raw is null.
func isNull(raw []byte) bool { return string(raw) == "null" }

// parseInt accepts a JSON number or a string holding one ("42"), as
// LivePerson's own examples mix both. An integral float (120.0, 1e3) is
// accepted too; a fraction is not.
func parseInt(raw []byte) (int64, error) {
	if len(raw) > 0 && raw[0] == '"' {
		if bytes.IndexByte(raw, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return 0, err
			}
			raw = []byte(s)
		} else {
			raw = raw[1 : len(raw)-1]
		}
	}
	if n, ok := fastInt(raw); ok {
		return n, nil
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errNotNumber
	}
	return int64(f), nil
}

// fastInt parses a plain decimal integer of at most 18 digits without
// allocating; anything else is left to strconv.
func fastInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseBool accepts true/false or the strings "true"/"false".
func parseBool(raw []byte) (bool, error) {
	switch string(raw) {
	case "true", `"true"`, `"TRUE"`, `"True"`:
		return true, nil
	case "false", `"false"`, `"FALSE"`, `"False"`:
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// parseString accepts a JSON string (or null, read as ""). Numbers are
// accepted as their text, since LivePerson types some string fields
// loosely.
func parseString(raw []byte) (string, error) {
	switch {
	case isNull(raw):
		return "", nil
	case raw[0] == '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && asciiOrValid(inner) {
			return string(inner), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), nil
	}
	return "", errors.New("not a string")
}

func asciiOrValid(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b)
		}
	}
	return true
}

// parseIDs accepts a list of ids given as numbers or numeric strings; null
// gives a nil slice and [] an empty one, so the two stay distinct.
func parseIDs(raw []byte) ([]int64, error) {
	if isNull(raw) {
		return nil, nil
	}
	s := scanner{data: raw}
	ids := make([]int64, 0, 4)
	err := s.array(func(elem []byte) error {
		n, err := parseInt(elem)
		if err != nil {
			return err
		}
		ids = append(ids, n)
		return nil
	})
	if err != nil {
		return nil, errors.New("not a list of ids")
	}
	return ids, nil
}

// keyCache turns raw keys into Go strings. The objects of one list nearly
// always repeat their keys in the same order, so the key at position i of
// the previous object is tried first: a byte compare, no hashing and no
// allocation.
type keyCache struct {
	prev []string
	// idx holds, beside prev, the index keyIndex found for each key.
	idx []int
	i   int
}

// reset starts a new object.
func (c *keyCache) reset() { c.i = 0 }

func (c *keyCache) key(raw []byte, plain bool) (string, error) {
	if !plain {
		var k string
		if err := json.Unmarshal(raw, &k); err != nil {
			return "", err
		}
		return k, nil
	}
	inner := raw[1 : len(raw)-1]
	i := c.i
	c.i++
	if i < len(c.prev) && c.prev[i] == string(inner) {
		return c.prev[i], nil
	}
	k := string(inner)
	if i < len(c.prev) {
		c.prev[i], c.idx[i] = k, -1
	} else {
		c.prev = append(c.prev, k)
		c.idx = append(c.idx, -1)
	}
	return k, nil
}

// keyIndex is key that also returns index[key] (-1 when absent), looked
// up only when the key is not the one cached at its position. One cache
// serves either key or keyIndex (with one index), never both.
func (c *keyCache) keyIndex(raw []byte, plain bool, index map[string]int) (string, int, error) {
	if !plain {
		var k string
		if err := json.Unmarshal(raw, &k); err != nil {
			return "", 0, err
		}
		return k, lookupIndex(index, k), nil
	}
	inner := raw[1 : len(raw)-1]
	i := c.i
	c.i++
	if i < len(c.prev) && c.prev[i] == string(inner) {
		return c.prev[i], c.idx[i], nil
	}
	k := string(inner)
	n := lookupIndex(index, k)
	if i < len(c.prev) {
		c.prev[i], c.idx[i] = k, n
	} else {
		c.prev = append(c.prev, k)
		c.idx = append(c.idx, n)
	}
	return k, n, nil
}

func lookupIndex(index map[string]int, k string) int {
	if n, ok := index[k]; ok {
		return n
	}
	return -1
}

// Encoding helpers: append JSON to a byte slice without reflection.

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigit = "0123456789abcdef"

func appendIDs(b []byte, ids []int64) []byte {
	if ids == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, ']')
}

func appendKey(b []byte, key string, first *bool) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = appendString(b, key)
	return append(b, ':')
}
