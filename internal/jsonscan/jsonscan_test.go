package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// seeds are texts from liveperson's and hrsource's tests: the shapes the
// scanner reads in production, and the ways they go wrong.
var seeds = []string{
	`[]`, `null`, `{}`, `[{}]`, ` [ ] `, `""`, `0`, `-0.5e+3`, `true`, `false`,
	`[{"id":12,"name":"a","description":"d","deleted":false,"maxWaitTime":120,"skillTransferList":[1,2],"lobIds":[]}]`,
	`[{"id":1.0,"name":"caf\u00e9 \"x\"","description":"日本語","maxWaitTime":1.2e2,"":1}]`,
	" [ {\n\t\"id\" : 5 ,\r\n \"name\":\"w\" , \"x\" : [ 1 , { \"y\" : null } ] } ] ",
	`{"Report_Entry": [{"Employee_ID": "1", "Worker_Skills_group": [{"Skill": "Java"}]}]}`,
	`{"d": {"results": [{"userId": "u1", "empInfo": {"jobInfoNav": {"results": [{"department": "Sales"}]}}}], "__next": "https://x/?$skiptoken=2"}}`,
	`[{"id":1,"name":"a"},3]`, `[{"id":1,"name":"a`, `{"name":"\x"}`, `[{"id":01}]`, `[1e400]`,
	`[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[1 2]`, `[] []`, `nul`, `"\u12"`, "\"\x01\"", "\"\xff\"",
	`-`, `1.`, `1e`, `.5`, `+1`, `[`, `{`, `{"a"`, `{"a":`, "\ufeff[]",
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range seeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{`[1,]`, "invalid JSON at offset 3: unexpected character ']'"},
		{`{"a":1 "b":2}`, "invalid JSON at offset 7: ',' or '}' expected"},
		{`[{"id":1,"name":"a`, "invalid JSON: unexpected end of input (unterminated string)"},
		{`{"name":"\x"}`, `invalid JSON at offset 9: invalid escape`},
		{`[] x`, "invalid JSON at offset 3: unexpected data after top-level value"},
		{`[01]`, "invalid JSON at offset 2: ',' or ']' expected"},
	}
	for _, tt := range tests {
		s := Scanner{Data: []byte(tt.in)}
		_, err := s.Value()
		if err == nil {
			err = s.End()
		}
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %s", tt.in, err, tt.want)
		}
	}
}

// TestDepth: the nesting limit is encoding/json's, whatever the mix of
// arrays and objects, and hostile nesting does not exhaust the stack.
func TestDepth(t *testing.T) {
	t.Parallel()
	for _, n := range []int{MaxDepth, MaxDepth + 1, 100 * MaxDepth} {
		for _, open := range []string{"[", `{"a":`} {
			closer := "]"
			if open != "[" {
				closer = "}"
			}
			doc := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(closer, n))
			if got, want := Valid(doc), json.Valid(doc); got != want || got != (n <= MaxDepth) {
				t.Errorf("%d times %s: Valid = %v, json.Valid = %v", n, open, got, want)
			}
		}
	}
}

// TestWalk: ObjectAt and ArrayAt, descending into members and elements,
// see the same keys and values as encoding/json, and leave the scanner
// past the value; Object and Array hand out each value's exact text.
func TestWalk(t *testing.T) {
	t.Parallel()
	doc := []byte(` {"a" : [1, {"b": "x\"y", "c": null}, [] ] , "d\u0065": {"e": true}, "f": -1.5e3 } `)
	var keys []string
	var walk func(s *Scanner) error
	walk = func(s *Scanner) error {
		switch s.Peek() {
		case '{':
			return s.ObjectAt(func(key []byte, plain bool) error {
				var k string
				if err := json.Unmarshal(key, &k); err != nil {
					return err
				}
				if plain != (string(key) == `"`+k+`"`) {
					t.Errorf("key %s: plain = %v", key, plain)
				}
				keys = append(keys, k)
				return walk(s)
			})
		case '[':
			return s.ArrayAt(func() error { return walk(s) })
		}
		_, err := s.Value()
		return err
	}
	s := Scanner{Data: doc}
	if err := walk(&s); err != nil {
		t.Fatal(err)
	}
	if err := s.End(); err != nil || s.Depth != 0 {
		t.Fatalf("end: %v, depth %d", err, s.Depth)
	}
	if got := strings.Join(keys, ","); got != "a,b,c,de,e,f" {
		t.Errorf("keys %s", got)
	}

	var vals []string
	s = Scanner{Data: doc}
	err := s.Object(func(key []byte, _ bool, val []byte) error {
		vals = append(vals, string(val))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`[1, {"b": "x\"y", "c": null}, [] ]`, `{"e": true}`, `-1.5e3`}
	if strings.Join(vals, "|") != strings.Join(want, "|") {
		t.Errorf("values %q, want %q", vals, want)
	}
	stop := errors.New("stop")
	s = Scanner{Data: []byte(`[1, 2, 3]`)}
	n := 0
	if err := s.Array(func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("an error from fn: got %v after %d elements", err, n)
	}
}

// FuzzValid: the scanner accepts exactly what encoding/json accepts, a
// valid text's top-level value is the text without its white space, and
// nothing panics.
func FuzzValid(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Scanner{Data: data}
		v, err := s.Value()
		if err == nil {
			err = s.End()
		}
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("scanner valid=%v (%v), encoding/json valid=%v for %q", err == nil, err, valid, data)
		}
		if err == nil && !bytes.Equal(v, bytes.TrimSpace(data)) {
			t.Fatalf("value %q of %q", v, data)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("error %v (%T) for %q", err, err, data)
			}
		}
	})
}

// TestReplaceEscapes: only real \u escapes are offered, a backslash
// escapes one character, a text cut short keeps its tail, and a text
// with nothing replaced is returned itself.
func TestReplaceEscapes(t *testing.T) {
	t.Parallel()
	nul := func(hex []byte) (string, bool) { return "?", string(hex) == "0000" }
	for in, want := range map[string]string{
		`"a\u0000b"`:     `"a?b"`,
		`"\\u0000"`:      `"\\u0000"`,
		`"\\\u0000"`:     `"\\?"`,
		`"\u0000\u0000"`: `"??"`,
		`"\u0041"`:       `"\u0041"`,
		`"\u000`:         `"\u000`,
		`\`:              `\`,
	} {
		if got := string(ReplaceEscapes([]byte(in), nul)); got != want {
			t.Errorf("ReplaceEscapes(%s) = %s, want %s", in, got, want)
		}
	}
	b := []byte(`"\u0041\\u0000"`)
	if got := ReplaceEscapes(b, nul); &got[0] != &b[0] {
		t.Errorf("nothing replaced, but a copy was returned")
	}
}
