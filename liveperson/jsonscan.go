package liveperson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file is a small JSON scanner. The Skills API returns every skill with
// select=$all, and an account may hold thousands: decoding through
// map[string]json.RawMessage with encoding/json costs several times the
// 30 ms budget for 10,000 skills, mostly in allocations and in the double
// scan encoding/json does. The scanner validates the input like
// encoding/json does, and hands out raw value slices that the codecs
// interpret tolerantly (numbers or numeric strings, true or "true").

// maxDepth bounds nesting so hostile input cannot exhaust the stack; it is
// the limit encoding/json uses.
const maxDepth = 10000

type scanner struct {
	data  []byte
	pos   int
	depth int
}

// syntaxError reports where the input stops being JSON.
func (s *scanner) syntaxError(what string) error {
	if s.pos >= len(s.data) {
		return fmt.Errorf("invalid JSON: unexpected end of input (%s)", what)
	}
	return fmt.Errorf("invalid JSON at offset %d: %s", s.pos, what)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// value skips one JSON value, validating it, and returns its raw bytes.
func (s *scanner) value() ([]byte, error) {
	s.ws()
	start := s.pos
	if s.pos >= len(s.data) {
		return nil, s.syntaxError("value expected")
	}
	var err error
	switch c := s.data[s.pos]; {
	case c == '"':
		_, err = s.str()
	case c == '{':
		err = s.skipObject()
	case c == '[':
		err = s.skipArray()
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		err = s.number()
	default:
		err = s.syntaxError(fmt.Sprintf("unexpected character %q", c))
	}
	if err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.syntaxError("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) number() error {
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return s.syntaxError("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.syntaxError("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.syntaxError("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return nil
}

// str skips a string starting at the opening quote and reports whether it
// holds escapes or non-ASCII bytes (and so needs the slow decoding path).
func (s *scanner) str() (slow bool, err error) {
	d := s.data
	i := s.pos + 1
	for i < len(d) {
		// Skip eight plain bytes at a time: most strings are short ASCII
		// names and dates, and this loop is the decoder's hot spot.
		for i+8 <= len(d) && plain8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return slow, nil
		case c == '\\':
			slow = true
			if i+1 >= len(d) {
				s.pos = i
				return false, s.syntaxError("unterminated escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex4(d[i+2:i+6]) {
					s.pos = i
					return false, s.syntaxError("invalid \\u escape")
				}
				i += 6
			default:
				s.pos = i
				return false, s.syntaxError("invalid escape")
			}
		case c < 0x20:
			s.pos = i
			return false, s.syntaxError("control character in string")
		case c >= utf8.RuneSelf:
			slow = true
			i++
		default:
			i++
		}
	}
	s.pos = i
	return false, s.syntaxError("unterminated string")
}

// plain8 reports whether none of the eight bytes in x is a quote, a
// backslash, a control character or a non-ASCII byte (bit tricks from
// "Bit Twiddling Hacks": a byte below n, a zero byte after xor).
func plain8(x uint64) bool {
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	m := (x - lo*0x20) & ^x
	m |= (q - lo) & ^q
	m |= (bs - lo) & ^bs
	m |= x
	return m&hi == 0
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return s.syntaxError("nested too deeply")
	}
	return nil
}

func (s *scanner) skipObject() error {
	return s.object(func([]byte, bool, []byte) error { return nil })
}

func (s *scanner) skipArray() error {
	return s.array(func([]byte) error { return nil })
}

// object walks the members of the object at the current position, calling
// fn with each raw key (quotes included) and raw value. plainKey reports a
// key without escapes or non-ASCII bytes, usable as is.
func (s *scanner) object(fn func(key []byte, plainKey bool, val []byte) error) error {
	if s.peek() != '{' {
		return s.syntaxError("object expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.syntaxError("object key expected")
		}
		kstart := s.pos
		slow, err := s.str()
		if err != nil {
			return err
		}
		key := s.data[kstart:s.pos]
		if s.peek() != ':' {
			return s.syntaxError("':' expected")
		}
		s.pos++
		val, err := s.value()
		if err != nil {
			return err
		}
		if err := fn(key, !slow, val); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError("',' or '}' expected")
		}
	}
}

// array walks the elements of the array at the current position, calling
// fn with each raw element.
func (s *scanner) array(fn func(elem []byte) error) error {
	return s.arrayAt(func() error {
		v, err := s.value()
		if err != nil {
			return err
		}
		return fn(v)
	})
}

// arrayAt walks an array, calling fn positioned at each element; fn must
// consume exactly one value.
func (s *scanner) arrayAt(fn func() error) error {
	if s.peek() != '[' {
		return s.syntaxError("array expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError("',' or ']' expected")
		}
	}
}

// end checks that nothing but white space follows the top-level value.
func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.data) {
		return s.syntaxError("unexpected data after top-level value")
	}
	return nil
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
