package sync

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// slowRawInt and slowRawBool are rawInt and rawBool without their fast
// paths: what the fast paths must agree with.
func slowRawInt(raw json.RawMessage) (int64, bool) {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	switch v := v.(type) {
	case float64:
		return int64(v), v == math.Trunc(v)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func slowRawBool(raw json.RawMessage) bool {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return false
}

var rawSeeds = []string{
	"", "0", "1", "-1", "-0", "01", "00", "12", "-12", "123456789012345", "1234567890123456", "9007199254740993",
	"-999999999999999", "1.0", "1.5", "1e3", "-", "+1", " 1", "1 ", `"7"`, `" 7 "`, `"x"`, "true", "false", "null",
	`"true"`, `"TRUE"`, `" true "`, "tru", "[]", "{}", "truex", "nul",
}

func TestRawValueFastPaths(t *testing.T) {
	t.Parallel()
	for _, s := range rawSeeds {
		n, ok := rawInt(json.RawMessage(s))
		wn, wok := slowRawInt(json.RawMessage(s))
		if n != wn || ok != wok {
			t.Errorf("rawInt(%q) = %d, %v; want %d, %v", s, n, ok, wn, wok)
		}
		if b, wb := rawBool(json.RawMessage(s)), slowRawBool(json.RawMessage(s)); b != wb {
			t.Errorf("rawBool(%q) = %v; want %v", s, b, wb)
		}
	}
}

func FuzzRawValueFastPaths(f *testing.F) {
	for _, s := range rawSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := rawInt(json.RawMessage(s))
		wn, wok := slowRawInt(json.RawMessage(s))
		if n != wn || ok != wok {
			t.Errorf("rawInt(%q) = %d, %v; want %d, %v", s, n, ok, wn, wok)
		}
		if b, wb := rawBool(json.RawMessage(s)), slowRawBool(json.RawMessage(s)); b != wb {
			t.Errorf("rawBool(%q) = %v; want %v", s, b, wb)
		}
	})
}
