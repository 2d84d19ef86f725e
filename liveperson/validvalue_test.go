package liveperson

import (
	"bytes"
	"encoding/json"
	"testing"
)

var validValueSeeds = []string{
	"", " ", `""`, `"a"`, `"a b"`, `"\u00e9"`, `"é"`, "\"\xff\"", `"a\"b"`, `"a\\b"`, "\"a\tb\"", `"`, `"""`, `"a`,
	"0", "00", "01", "1", "10", "123456789012345678901234567890", "-1", "1.5", "1e3", "1a", " 1", "1 ",
	"true", "false", "null", "tru", "nul", " true", "[]", "[1,2]", "{}", `{"a":1}`, "[", "}",
}

// TestValidValue: validValue decides as json.Valid does (after the
// empty-value check appendRawFields always made).
func TestValidValue(t *testing.T) {
	t.Parallel()
	for _, s := range validValueSeeds {
		if got, want := validValue([]byte(s)), len(bytes.TrimSpace([]byte(s))) > 0 && json.Valid([]byte(s)); got != want {
			t.Errorf("validValue(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValidValue(f *testing.F) {
	for _, s := range validValueSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validValue([]byte(s)), len(bytes.TrimSpace([]byte(s))) > 0 && json.Valid([]byte(s)); got != want {
			t.Errorf("validValue(%q) = %v, want %v", s, got, want)
		}
	})
}
