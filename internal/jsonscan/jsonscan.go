// Package jsonscan owns how skillsync reads JSON held in memory when
// encoding/json's reflection would cost too much: a Scanner that walks a
// text once, validating it exactly as json.Valid does (the same grammar,
// the same nesting limit), and hands out the raw bytes of values, object
// keys and array elements for the caller to interpret. liveperson's codec
// decodes the Skills and Users APIs' lists with it; hrsource walks the
// pages of an HTTP feed and flattens their records with it; store and the
// console replace escapes in stored plans with ReplaceEscapes.
//
// It interprets nothing: what a value means (a number given as a string,
// a nested object flattened into dotted columns) is the caller's. It
// imports only the standard library, so that both adapters may import it
// without importing each other.
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of skillsync (the standard library only).
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// MaxDepth bounds nesting, so that hostile input cannot exhaust the
// stack; it is the limit encoding/json uses.
const MaxDepth = 10000

// Scanner reads the JSON text in Data from Pos on. The zero value with
// Data set reads from the start. Its methods validate what they read and
// stop at the first error with a *SyntaxError.
//
// The fields are exported so that a caller can carry a scan's state in a
// type of its own (liveperson keeps its scanner type): Pos is the offset
// of the next byte to read, Depth the number of arrays and objects open
// around it.
type Scanner struct {
	Data  []byte
	Pos   int
	Depth int
}

// SyntaxError is where and why a text stops being JSON.
type SyntaxError struct {
	// Offset is the byte offset of the error; it is len(Data) when the
	// text ends early.
	Offset int
	// EOF says that the text ends early.
	EOF bool
	// What says what was expected or found.
	What string
}

func (e *SyntaxError) Error() string {
	if e.EOF {
		return fmt.Sprintf("invalid JSON: unexpected end of input (%s)", e.What)
	}
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.What)
}

// Error returns a *SyntaxError at the current position.
func (s *Scanner) Error(what string) error {
	if s.Pos >= len(s.Data) {
		return &SyntaxError{Offset: len(s.Data), EOF: true, What: what}
	}
	return &SyntaxError{Offset: s.Pos, What: what}
}

// SkipSpace moves past white space.
func (s *Scanner) SkipSpace() {
	for s.Pos < len(s.Data) {
		switch s.Data[s.Pos] {
		case ' ', '\t', '\n', '\r':
			s.Pos++
		default:
			return
		}
	}
}

// Peek moves past white space and returns the next byte, or 0 at the end
// of the text.
func (s *Scanner) Peek() byte {
	s.SkipSpace()
	if s.Pos >= len(s.Data) {
		return 0
	}
	return s.Data[s.Pos]
}

// Value reads one value, validating it, and returns its raw bytes
// (without the white space around it).
func (s *Scanner) Value() ([]byte, error) {
	s.SkipSpace()
	start := s.Pos
	if s.Pos >= len(s.Data) {
		return nil, s.Error("value expected")
	}
	var err error
	switch c := s.Data[s.Pos]; {
	case c == '"':
		_, err = s.Str()
	case c == '{':
		err = s.skipObject()
	case c == '[':
		err = s.skipArray()
	case c == 't':
		err = s.Literal("true")
	case c == 'f':
		err = s.Literal("false")
	case c == 'n':
		err = s.Literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		err = s.number()
	default:
		err = s.Error(fmt.Sprintf("unexpected character %q", c))
	}
	if err != nil {
		return nil, err
	}
	return s.Data[start:s.Pos], nil
}

// Literal reads lit (true, false or null) at the current position.
func (s *Scanner) Literal(lit string) error {
	if len(s.Data)-s.Pos < len(lit) || string(s.Data[s.Pos:s.Pos+len(lit)]) != lit {
		return s.Error("invalid literal")
	}
	s.Pos += len(lit)
	return nil
}

func (s *Scanner) number() error {
	d := s.Data
	i := s.Pos
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
		s.Pos = i
		return s.Error("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.Pos = i
			return s.Error("invalid number")
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
			s.Pos = i
			return s.Error("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.Pos = i
	return nil
}

// Str reads the string whose opening quote is at the current position
// and reports whether it holds escapes or non-ASCII bytes: a string
// without (plain) is its own text between the quotes.
func (s *Scanner) Str() (slow bool, err error) {
	d := s.Data
	i := s.Pos + 1
	for i < len(d) {
		// Skip eight plain bytes at a time: most strings are short ASCII
		// names and dates, and this loop is the decoders' hot spot.
		for i+8 <= len(d) && plain8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.Pos = i + 1
			return slow, nil
		case c == '\\':
			slow = true
			if i+1 >= len(d) {
				s.Pos = i
				return false, s.Error("unterminated escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex4(d[i+2:i+6]) {
					s.Pos = i
					return false, s.Error("invalid \\u escape")
				}
				i += 6
			default:
				s.Pos = i
				return false, s.Error("invalid escape")
			}
		case c < 0x20:
			s.Pos = i
			return false, s.Error("control character in string")
		case c >= utf8.RuneSelf:
			slow = true
			i++
		default:
			i++
		}
	}
	s.Pos = i
	return false, s.Error("unterminated string")
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

func (s *Scanner) enter() error {
	s.Depth++
	if s.Depth > MaxDepth {
		return s.Error("nested too deeply")
	}
	return nil
}

func (s *Scanner) skipObject() error {
	return s.Object(func([]byte, bool, []byte) error { return nil })
}

func (s *Scanner) skipArray() error {
	return s.Array(func([]byte) error { return nil })
}

// Object reads the object at the current position, calling fn with each
// raw key (quotes included) and raw value. plainKey reports a key without
// escapes or non-ASCII bytes, usable as is between its quotes. An error
// from fn stops the walk and is returned as is.
func (s *Scanner) Object(fn func(key []byte, plainKey bool, val []byte) error) error {
	// ObjectAt's loop written out again: this is liveperson's hot path,
	// where a second callback per member costs.
	if s.Peek() != '{' {
		return s.Error("object expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.Pos++
	if s.Peek() == '}' {
		s.Pos++
		s.Depth--
		return nil
	}
	for {
		if s.Peek() != '"' {
			return s.Error("object key expected")
		}
		kstart := s.Pos
		slow, err := s.Str()
		if err != nil {
			return err
		}
		key := s.Data[kstart:s.Pos]
		if s.Peek() != ':' {
			return s.Error("':' expected")
		}
		s.Pos++
		val, err := s.Value()
		if err != nil {
			return err
		}
		if err := fn(key, !slow, val); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.Pos++
		case '}':
			s.Pos++
			s.Depth--
			return nil
		default:
			return s.Error("',' or '}' expected")
		}
	}
}

// ObjectAt reads the object at the current position, calling fn with
// each raw key positioned at the member's value (past the white space
// before it); fn must read exactly one value, and may descend into it.
func (s *Scanner) ObjectAt(fn func(key []byte, plainKey bool) error) error {
	if s.Peek() != '{' {
		return s.Error("object expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.Pos++
	if s.Peek() == '}' {
		s.Pos++
		s.Depth--
		return nil
	}
	for {
		if s.Peek() != '"' {
			return s.Error("object key expected")
		}
		kstart := s.Pos
		slow, err := s.Str()
		if err != nil {
			return err
		}
		key := s.Data[kstart:s.Pos]
		if s.Peek() != ':' {
			return s.Error("':' expected")
		}
		s.Pos++
		s.SkipSpace()
		if err := fn(key, !slow); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.Pos++
		case '}':
			s.Pos++
			s.Depth--
			return nil
		default:
			return s.Error("',' or '}' expected")
		}
	}
}

// Array reads the array at the current position, calling fn with each
// raw element.
func (s *Scanner) Array(fn func(elem []byte) error) error {
	if s.Peek() != '[' {
		return s.Error("array expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.Pos++
	if s.Peek() == ']' {
		s.Pos++
		s.Depth--
		return nil
	}
	for {
		v, err := s.Value()
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.Pos++
		case ']':
			s.Pos++
			s.Depth--
			return nil
		default:
			return s.Error("',' or ']' expected")
		}
	}
}

// ArrayAt reads the array at the current position, calling fn positioned
// at each element (past the white space before it); fn must read exactly
// one value, and may descend into it.
func (s *Scanner) ArrayAt(fn func() error) error {
	if s.Peek() != '[' {
		return s.Error("array expected")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.Pos++
	if s.Peek() == ']' {
		s.Pos++
		s.Depth--
		return nil
	}
	for {
		s.SkipSpace()
		if err := fn(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.Pos++
		case ']':
			s.Pos++
			s.Depth--
			return nil
		default:
			return s.Error("',' or ']' expected")
		}
	}
}

// End checks that nothing but white space follows the top-level value.
func (s *Scanner) End() error {
	s.SkipSpace()
	if s.Pos != len(s.Data) {
		return s.Error("unexpected data after top-level value")
	}
	return nil
}

// Valid reports whether data is one JSON value (with white space around
// it), as json.Valid does.
func Valid(data []byte) bool {
	s := Scanner{Data: data}
	if _, err := s.Value(); err != nil {
		return false
	}
	return s.End() == nil
}

// ReplaceEscapes returns the JSON text b with the \uXXXX escapes that
// replace names given other text: replace gets the escape's four hex
// digits and returns the text to write instead, or false to keep the
// escape. Only real escapes are seen: a backslash escapes the one
// character after it, so in \\u0000 (an escaped backslash, then the text
// "u0000") nothing is replaced. b itself is returned when nothing is; the
// text is not validated.
func ReplaceEscapes(b []byte, replace func(hex []byte) (string, bool)) []byte {
	var out []byte
	done := 0 // b[:done] is in out
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		if len(b)-i >= 6 && b[i+1] == 'u' {
			if text, ok := replace(b[i+2 : i+6]); ok {
				if out == nil {
					out = make([]byte, 0, len(b))
				}
				out = append(append(out, b[done:i]...), text...)
				done = i + 6
				i += 5
				continue
			}
		}
		i++ // the escaped character: a backslash escapes no further
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}
